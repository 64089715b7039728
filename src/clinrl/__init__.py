"""clinrl: train LLMs into clinical reasoners with reinforcement learning.

The package reads as the pipeline: data -> tasks -> rewards -> training -> evaluation -> report.
Importing ``clinrl`` is cheap: heavy libraries (torch, transformers, trl) are imported only by
the modules that need them.
"""

from clinrl.types import Sample, Score
from clinrl.registry import get_task, list_tasks, register_task

__version__ = "0.1.0"

__all__ = ["Sample", "Score", "get_task", "list_tasks", "register_task", "__version__"]
