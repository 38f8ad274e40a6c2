"""Process-wide numeric settings that every seqbench process shares (stages, CLI, tests, benches).

**Subnormal floats are flushed to zero** (the CPU's FTZ/DAZ modes). Backpropagating through
hundreds of recurrent steps shrinks gradients into the subnormal range (below 1.2e-38 in fp32),
where x86 arithmetic takes a slow microcode path: on this project's 2-core CPU a forward+backward
pass of the IMDB-shaped LSTM (B=32, T=256, H=64, last-step pooling) took 152 ms with subnormals
and 16 ms without, and the 2-layer H=128 one 1347 ms against 107 ms (``bench/models.py``). Values
that small change no fp32 weight: they are far below the rounding step of any weight update. The
gradients claim's profiles already treat exact zeros as underflow (``claims/gradients.py``).

**Deterministic mode does not fill fresh tensors with NaN.** ``deterministic=True`` (the
Trainer's, ``torch.use_deterministic_algorithms``) also fills every uninitialized tensor so that
a read of uninitialized memory shows; that fill is a debugging aid, not part of determinism
(the algorithms chosen stay the deterministic ones), and it cost about a tenth of each small
model's step (a ``fill_`` for every ``empty``; ``bench/peers.py``).

The FTZ mode is a per-thread register that new threads inherit, so it must be set before torch
starts its OpenMP worker threads, i.e. before its first parallel operation: every entry point
calls :func:`configure` first (``stage.run``, ``fit`` for library callers and the CLI
commands, the test session).
"""

from __future__ import annotations

import functools


@functools.cache
def configure() -> bool:
    """Apply the settings above in this process; False where the CPU cannot flush subnormals."""
    import torch  # here, not at import: the CLI and light stages start without torch
    import torch.utils.deterministic

    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    return bool(torch.set_flush_denormal(True))
