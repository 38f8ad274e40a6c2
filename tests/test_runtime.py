"""Process-wide numeric settings (seqbench.runtime)."""

import subprocess
import sys


def test_every_seqbench_process_flushes_subnormals_to_zero_in_its_worker_threads():
    """Subnormal gradients take a slow path on x86 (10x on deep recurrent backward passes):
    a fresh process that trains must have FTZ/DAZ on, in torch's OpenMP threads too."""
    code = (
        "import torch\n"
        "from seqbench.training.fit import configure_threads\n"
        "configure_threads(2)\n"
        "x = torch.full((1 << 20,), 1e-39)\n"  # a subnormal fp32 value, in a parallel op
        "print(int((x * 1.0).count_nonzero()), int(torch.tensor(1e-39) .count_nonzero()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]
