"""DVC stage claims_lr@<task>-<family>: the family's learning rate, from a small seeded study."""

from pathlib import Path

from seqbench import stage
from seqbench.claims.config import claims_config
from seqbench.claims.experiments import lr_study
from seqbench.io import write_json
from seqbench.typed import load_params
from seqbench.validation.core import require_passed

PARSER = stage.parser(
    __doc__,
    ("task", "a claims task (claims.tasks, datasets.<task>)"),
    ("family", "an architecture of claims.families"),
    ("validation_dir", "the dataset's validation report (must say success)"),
    ("data_dir", "data/processed/<task>"),
    ("out_file", "output: the study's trials and best learning rate (JSON)"),
)


def main(args) -> None:
    require_passed(Path(args.validation_dir))
    params = load_params(args.params)
    result = lr_study(params, claims_config(params), args.task, args.family, args.data_dir)
    write_json(args.out_file, result)
    print(
        f"{args.task}-{args.family}: lr {result['best_lr']:.3g} ({result['monitor']} "
        f"{result['best_value']:.4g})"
    )


if __name__ == "__main__":
    stage.run(main, PARSER)
