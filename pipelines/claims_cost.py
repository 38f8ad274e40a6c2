"""DVC stage claims_cost@<family>: training-step time, tokens/s, sequential steps and the bytes
saved for backward against T at the lab's parameter count, and the family at one shared width."""

import torch

from seqbench import stage
from seqbench.claims.config import claims_config, sized_model
from seqbench.claims.cost import SPEC, cost_config, cost_curve, equal_width
from seqbench.errors import SeqbenchError
from seqbench.io import write_json
from seqbench.training.fit import configure_threads
from seqbench.typed import load_params

PARSER = stage.parser(
    __doc__,
    ("family", "an architecture of claims.families"),
    ("out_file", "output: the measurements (JSON)"),
)


def main(args) -> None:
    params = load_params(args.params)
    cfg = claims_config(params)
    cost = cost_config(params)
    if cost.device == "cuda" and not torch.cuda.is_available():
        raise SeqbenchError("cost.device: cuda requested, but no CUDA device is available")
    device = torch.device(cost.device)
    threads = configure_threads("auto")
    model_cfg = sized_model(
        args.family, cfg.model, SPEC, cfg.parameters, cfg.tolerance, cost.lengths[-1]
    )
    curve = cost_curve(
        model_cfg,
        cost.lengths,
        cost.tokens,
        memory_batch=cost.memory_batch,
        repeats=cost.repeats,
        device=device,
    )
    curve["threads"] = threads
    curve["tokens"] = cost.tokens
    curve["equal_width"] = equal_width(args.family, cfg.model, cost, device)
    write_json(args.out_file, curve)
    for p in curve["points"]:
        print(
            f"{args.family} T={p['length']}: {p['step_seconds'] * 1e3:.1f} ms/step, "
            f"{p['tokens_per_second']:.0f} tokens/s, {p['saved_bytes_per_sequence'] / 1024:.0f} "
            f"KiB saved per sequence"
        )


if __name__ == "__main__":
    stage.run(main, PARSER)
