"""The one registry of task kinds: name → :class:`~seqbench.tasks.base.Task`.

Adding a task kind = a module with its ``Task`` subclass (and, usually, a LightningModule in
``modules.py``) + one line here; a dataset kind names it in ``seqbench.data.kinds``.
"""

from __future__ import annotations

from seqbench.errors import SeqbenchError
from seqbench.tasks.base import Task
from seqbench.tasks.classification import Classification
from seqbench.tasks.forecasting import Forecasting
from seqbench.tasks.synthetic import AddingProblem, CopyMemory

TASKS: dict[str, Task] = {
    Classification.name: Classification(),
    Forecasting.name: Forecasting(),
    AddingProblem.name: AddingProblem(),
    CopyMemory.name: CopyMemory(),
}


def get_task(kind: str) -> Task:
    """The registered task kind ``kind``; unknown names fail with the list of valid ones."""
    try:
        return TASKS[kind]
    except KeyError:
        raise SeqbenchError(
            f"task kind {kind!r}: expected one of {', '.join(sorted(TASKS))}"
        ) from None
