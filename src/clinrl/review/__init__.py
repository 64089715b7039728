"""Physician review of LLM-drafted rubrics, and double-blind adjudication of criterion labels.

``clinrl review serve`` runs a local web application (FastAPI, server-rendered pages, no external
assets) backed by SQLite by default or any SQLAlchemy URL. See :mod:`clinrl.review.store` for the data
model, :mod:`clinrl.review.web` for the pages and the JSON API, :mod:`clinrl.review.security` for CSRF
tokens, the Origin check, security headers and the login throttle, and :mod:`clinrl.review.limits` for
the bounds on every request. docs/review.md describes the security behaviour for operators.
"""
