"""Size limits of the review app: every count and body it accepts is bounded before any work is done.

They exist so that one request can never hold the server: a form's ``item_count`` is bounded by the
rubric it edits, request bodies are capped at the server before a handler sees them, and uploads are
read only after the sender is known to be an admin.
"""

from __future__ import annotations

#: most criteria one rubric may have in the review app (HealthBench's largest rubrics have a few dozen)
MAX_CRITERIA = 200
#: blank "add a criterion" rows the edit page shows after the existing criteria
NEW_ROWS = 1
#: fields the edit form posts per criterion row (id, tags, text, dimension, weight, points, delete)
FIELDS_PER_ROW = 7
#: the other fields of the edit form (version, item_count, action, reason, csrf_token) plus some slack
FORM_EXTRA_FIELDS = 16
#: largest urlencoded form or JSON body: a full MAX_CRITERIA rubric with long criterion texts fits
MAX_BODY_BYTES = 1024 * 1024
#: largest rubric file an admin may upload (the JSONL itself)
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
#: multipart framing around the uploaded file (boundaries, part headers, the round and token fields)
UPLOAD_OVERHEAD_BYTES = 64 * 1024
#: review rounds are numbered 1, 2, … ; anything above this is a typo
MAX_ROUND = 100_000


def max_form_fields(criteria: int = MAX_CRITERIA) -> int:
    """Fields an edit form for a rubric with ``criteria`` criteria can legitimately post."""
    return FIELDS_PER_ROW * (criteria + NEW_ROWS) + FORM_EXTRA_FIELDS


def body_limit(path: str) -> int:
    """The body cap for a request path: the upload route gets room for one file, everything else a form."""
    return MAX_UPLOAD_BYTES + UPLOAD_OVERHEAD_BYTES if path == "/upload" else MAX_BODY_BYTES
