"""MedCalc-Bench task (see ``task.py``) and its official scoring rules (``scoring.py``)."""

from clinrl.tasks.medcalc.task import MedCalcDataWarning, MedCalcTask

__all__ = ["MedCalcDataWarning", "MedCalcTask"]
