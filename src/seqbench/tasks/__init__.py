"""Task kinds, the unit of extension: one :class:`Task` per kind of problem, in :data:`TASKS`.

Importing this package loads no Lightning: the LightningModules (``modules.py``), recorders
(``predictions.py``) and predictors (``predictors.py``) are imported when a task uses them.
"""

from seqbench.tasks.base import NonFiniteLossError, Task
from seqbench.tasks.config import OptimConfig, TaskConfig
from seqbench.tasks.registry import TASKS, get_task

__all__ = ["TASKS", "NonFiniteLossError", "OptimConfig", "Task", "TaskConfig", "get_task"]
