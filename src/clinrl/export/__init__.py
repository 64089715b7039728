"""Exports to other training engines (verl)."""

from clinrl.export.verl import compute_score, export_verl

__all__ = ["compute_score", "export_verl"]
