"""DVC stage claims_report: reports/claims.md and claims.json, the verdicts and their numbers."""

import os
from dataclasses import replace
from pathlib import Path

from seqbench import stage
from seqbench.claims.config import claims_config
from seqbench.claims.convergence import task_times
from seqbench.claims.learning import learning_config, lengths_config
from seqbench.claims.report import figures, render
from seqbench.claims.seed_table import Link
from seqbench.claims.variants import variant_verdicts
from seqbench.io import MissingInputError, atomic_path, read_json, write_json
from seqbench.report.config import compare_config
from seqbench.typed import load_params

PARSER = stage.parser(
    __doc__,
    ("summaries_dir", "the claims_train summaries (<task>-<family>.json)"),
    ("gradients_dir", "the claims_gradients results (<family>.json)"),
    ("learning_dir", "the claims_learning results (<task>-<arch>.json)"),
    ("lengths_dir", "the claims_lengths results (<task>-<arch>.json)"),
    ("cost_dir", "the claims_cost results (<family>.json)"),
    ("comparison_file", "the compare stage's JSON (its variant rows and their paired tests)"),
    ("curves_dir", "the train stages' per-epoch curves (<task>-<arch>.csv)"),
    ("metrics_dir", "the train stages' metrics, with their timings under timing/"),
    ("report_file", "output: the markdown report"),
    ("json_file", "output: its JSON twin"),
    ("figures_dir", "output: the figures"),
)


def _curves(rows: list[tuple[str, str]], directory: str, stage_name: str) -> dict:
    """The summaries of ``rows`` written by ``stage_name`` into ``directory``, by task and arch."""
    out: dict = {}
    for task, arch in rows:
        path = Path(directory) / f"{task}-{arch}.json"
        if not path.is_file():
            raise MissingInputError(f"{path}: missing; run {stage_name}@{task}-{arch}")
        out.setdefault(task, {})[arch] = read_json(path)
    return out


def main(args) -> None:
    params = load_params(args.params)
    cfg = claims_config(params)
    summaries, gradients = {}, {}
    for task in cfg.tasks:
        summaries[task] = {}
        for family in cfg.families:
            path = Path(args.summaries_dir) / f"{task}-{family}.json"
            if not path.is_file():
                raise MissingInputError(f"{path}: missing; run claims_train@{task}-{family}")
            summaries[task][family] = read_json(path)
    for family in cfg.families:
        path = Path(args.gradients_dir) / f"{family}.json"
        if not path.is_file():
            raise MissingInputError(f"{path}: missing; run claims_gradients@{family}")
        gradients[family] = read_json(path)
    cost = {}
    for family in cfg.families:
        path = Path(args.cost_dir) / f"{family}.json"
        if not path.is_file():
            raise MissingInputError(f"{path}: missing; run claims_cost@{family}")
        cost[family] = read_json(path)
    if not Path(args.comparison_file).is_file():
        raise MissingInputError(f"{args.comparison_file}: missing; run compare")
    alpha = compare_config(params).alpha
    variants = variant_verdicts(read_json(args.comparison_file), alpha)
    convergence = task_times(params, cfg.families, args.curves_dir, args.metrics_dir)
    learning_cfg = learning_config(params)
    learning = _curves(learning_cfg.rows(), args.learning_dir, "claims_learning")
    lengths = _curves(lengths_config(params).rows(), args.lengths_dir, "claims_lengths")
    report = Path(args.report_file)

    def link(path: str | Path) -> str:  # relative to the report, as markdown links are read
        return os.path.relpath(path, report.parent)

    with atomic_path(args.figures_dir) as tmp:
        drawn = figures(cfg, summaries, gradients, tmp, learning, cost, lengths)
        final = Path(args.figures_dir)
        links = [replace(f, path=link(final / Path(f.path).name)) for f in drawn]
    sources = {
        kind: tuple(Link(name, link(path)) for name, path in files)
        for kind, files in {
            "spans": [("runs", args.summaries_dir)],
            "gradients": [("gradients", args.gradients_dir)],
            "parameters": [("claims.json", args.json_file)],
            "cost": [("cost", args.cost_dir)],
            "learning": [("learning", args.learning_dir)],
            "lengths": [("lengths", args.lengths_dir)],
            "convergence": [
                ("curves", args.curves_dir),
                ("timing", Path(args.metrics_dir) / "timing"),
            ],
            "variants": [("comparison", args.comparison_file)],
        }.items()
    }
    runs = (
        f"MLflow: the lab's runs are in the experiment `{cfg.experiment}` (runs named "
        "`<task>-<family>-T<length>`, `<task>-<arch>-share<share>` and "
        "`<task>-<arch>-len<length>`, tagged with their stage), the real tasks' in the "
        "experiment named after each task (`imdb`, `pems`, ...)."
    )
    text, data = render(
        cfg,
        summaries,
        gradients,
        links,
        learning,
        learning_cfg.seeds,
        cost,
        variants,
        alpha,
        convergence,
        sources,
        runs,
        lengths,
    )
    with atomic_path(report) as tmp:
        tmp.write_text(text)
    write_json(args.json_file, data)
    print(f"wrote {report}: {len(data['verdicts'])} verdicts")


if __name__ == "__main__":
    stage.run(main, PARSER)
