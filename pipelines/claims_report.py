"""DVC stage claims_report: reports/claims.md and claims.json, the verdicts and their numbers."""

from pathlib import Path

from seqbench import stage
from seqbench.claims.config import claims_config
from seqbench.claims.convergence import task_times
from seqbench.claims.learning import learning_config
from seqbench.claims.report import figures, render
from seqbench.claims.variants import variant_verdicts
from seqbench.io import MissingInputError, atomic_path, read_json, write_json
from seqbench.report.config import compare_config
from seqbench.typed import load_params

PARSER = stage.parser(
    __doc__,
    ("summaries_dir", "the claims_train summaries (<task>-<family>.json)"),
    ("gradients_dir", "the claims_gradients results (<family>.json)"),
    ("learning_dir", "the claims_learning results (<task>-<arch>.json)"),
    ("cost_dir", "the claims_cost results (<family>.json)"),
    ("comparison_file", "the compare stage's JSON (its variant rows and their paired tests)"),
    ("curves_dir", "the train stages' per-epoch curves (<task>-<arch>.csv)"),
    ("metrics_dir", "the train stages' metrics, with their timings under timing/"),
    ("report_file", "output: the markdown report"),
    ("json_file", "output: its JSON twin"),
    ("figures_dir", "output: the figures"),
)


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
    learning: dict = {}
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
    for task, arch in learning_cfg.rows():
        path = Path(args.learning_dir) / f"{task}-{arch}.json"
        if not path.is_file():
            raise MissingInputError(f"{path}: missing; run claims_learning@{task}-{arch}")
        learning.setdefault(task, {})[arch] = read_json(path)
    report = Path(args.report_file)
    with atomic_path(args.figures_dir) as tmp:
        paths = figures(cfg, summaries, gradients, tmp, learning, cost)
        final = Path(args.figures_dir)
        links = {
            name: str((final / p.name).relative_to(report.parent)) for name, p in paths.items()
        }
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
    )
    with atomic_path(report) as tmp:
        tmp.write_text(text)
    write_json(args.json_file, data)
    print(f"wrote {report}: {len(data['verdicts'])} verdicts")


if __name__ == "__main__":
    stage.run(main, PARSER)
