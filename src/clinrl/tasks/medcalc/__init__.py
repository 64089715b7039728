"""MedCalc-Bench, all in this folder.

* the task and its prompts: ``task.py``, ``prompts.py``;
* scoring: the benchmark's rules (``scoring.py``) and its published evaluator (``official.py``, ``pyexpr.py``);
* rows and labels: ``sources.py``, recomputed labels (``labels.py``), the dataset's documented label defects
  (``known_defects.py``) and the label audit (``audit.py``);
* synthetic rows: ``synth.py`` with its value ranges and note templates (``notes.py``, ``catalog.py``);
* the failure taxonomy of wrong answers (``taxonomy.py``), shown in reports through ``failure_taxonomy``.
"""

from clinrl.tasks.medcalc.task import NAME, MedCalcDataWarning, MedCalcTask

__all__ = ["NAME", "MedCalcDataWarning", "MedCalcTask"]
