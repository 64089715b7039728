"""The ``rubric`` task: physician-rubric grading with ProMedical's safety-vetoed reward (see ``task.py``)."""

from clinrl.tasks.rubric_qa.task import RubricQATask

__all__ = ["RubricQATask"]
