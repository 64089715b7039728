"""Patient–trial matching: loaders (TrialGPT layout, pairs files), patient-level splits, the task, metrics,
the synthetic generator and teacher rationales for the SFT warm-up. See ``docs/tasks/trials.md``."""

from clinrl.tasks.trials.task import TrialDataWarning, TrialMatchingTask

__all__ = ["TrialDataWarning", "TrialMatchingTask"]
