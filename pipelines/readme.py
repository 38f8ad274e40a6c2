"""DVC stage readme: the README's results section from the comparison report and stage timings."""

from pathlib import Path

from seqbench import stage
from seqbench.data.kinds import train_tasks
from seqbench.io import MissingInputError, atomic_path
from seqbench.report.readme import (
    ReadmeError,
    pipeline_stages,
    read_timings,
    results_section,
    splice,
)
from seqbench.typed import load_params

PARSER = stage.parser(
    __doc__,
    ("comparison", "reports/comparison.md of the compare stage"),
    ("timings_dir", "reports/timings/<stage>.json left by each stage"),
    ("section", "output: the generated results section (markdown)"),
)
PARSER.add_argument(
    "--readme", help="README to update between its results markers (default: readme.file)"
)
PARSER.add_argument("--claims", help="reports/claims.md of the claims_report stage")


def main(args) -> None:
    params = load_params(args.params)
    if not Path(args.comparison).is_file():
        raise MissingInputError(f"{args.comparison}: missing; run the compare stage first")
    stages = pipeline_stages(params)
    timings = read_timings(Path(args.timings_dir), stages)
    claims = None
    if args.claims:
        if not Path(args.claims).is_file():
            raise MissingInputError(f"{args.claims}: missing; run the claims_report stage first")
        claims = Path(args.claims).read_text()
    section = results_section(
        Path(args.comparison).read_text(), timings, stages, train_tasks(params), claims_md=claims
    )
    target = args.readme or params.get("readme", {}).get("file")
    if target:  # check the README before writing anything
        readme = Path(target)
        if not readme.is_file():
            raise ReadmeError(f"{readme}: not found (readme.file in params)")
        updated = splice(readme.read_text(), section, readme)
    with atomic_path(args.section) as tmp:
        tmp.write_text(section + "\n")
    if target:
        with atomic_path(readme) as tmp:
            tmp.write_text(updated)
        print(f"{readme}: results section updated ({len(timings)} stage timings)")


if __name__ == "__main__":
    stage.run(main, PARSER)
