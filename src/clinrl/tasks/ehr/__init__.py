"""EHR prediction on MEDS data: EHRSHOT-style labelers, timeline serialisation and the ``ehr`` task."""

from clinrl.tasks.ehr.task import EHRDiagnosisTask

__all__ = ["EHRDiagnosisTask"]
