"""EHR prediction tasks on MEDS data: EHRSHOT-style labelers, timeline serialisation, the ``ehr`` task."""
