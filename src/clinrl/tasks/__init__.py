"""Tasks: one module (or folder) per task; see ``clinrl.tasks.base.Task`` for the contract."""

from clinrl.tasks.base import Task, TaskCard

__all__ = ["Task", "TaskCard"]
