"""DVC stage claims_gradients@<family>: gradient norm by distance, at init and after training."""

from seqbench import stage
from seqbench.claims.config import claims_config
from seqbench.claims.experiments import gradient_probe
from seqbench.io import write_json
from seqbench.typed import load_params

PARSER = stage.parser(
    __doc__,
    ("family", "an architecture of claims.families"),
    ("data_dir", "data/processed/<claims.gradients.task>"),
    ("grid_dir", "the claims_train output of that task and family"),
    ("out_file", "output: the profiles, decay rates and reaches (JSON)"),
)


def main(args) -> None:
    params = load_params(args.params)
    probe = gradient_probe(params, claims_config(params), args.family, args.data_dir, args.grid_dir)
    write_json(args.out_file, probe)
    print(
        f"{args.family}: decay {probe['init']['rate']:.3g} → {probe['trained']['rate']:.3g} "
        "decades/step (init → trained)"
    )


if __name__ == "__main__":
    stage.run(main, PARSER)
