"""Tasks: one module (or folder) per task; see ``clinrl.tasks.base.Task`` for the contract."""

from clinrl.tasks.base import ContractTask, Task, TaskCard

__all__ = ["ContractTask", "Task", "TaskCard"]
