"""Reaching the model/dataset hub: fail fast when this machine cannot.

Offline, the hub libraries retry each request for ~25 s before they give up, and a cached dataset
or model is only used without a request once offline mode is on. :func:`offline_if_unreachable`
checks whether the hub's host name resolves (about a millisecond) and, when it does not, turns on
the libraries' own offline mode (``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE``): cached copies load
at once and anything else fails at once with the usual clinrl error.
"""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlparse

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def hub_host() -> str | None:
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub comes with the train/data extras
        return None
    return urlparse(constants.ENDPOINT).hostname


def offline_if_unreachable() -> bool:
    """``True`` when hub access is (now) in offline mode; switches it on if the host does not resolve."""
    if any(os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE") for v in OFFLINE_VARIABLES):
        return True
    host = hub_host()
    if host is None:
        return False
    try:
        socket.getaddrinfo(host, 443)
        return False
    except (socket.gaierror, UnicodeError, OSError):
        pass
    for variable in OFFLINE_VARIABLES:
        os.environ[variable] = "1"
    # Both libraries read the variables when first imported; update them if that already happened.
    if "huggingface_hub" in sys.modules:
        from huggingface_hub import constants

        constants.HF_HUB_OFFLINE = True
    if "datasets" in sys.modules:
        import datasets

        datasets.config.HF_HUB_OFFLINE = True
        datasets.config.HF_DATASETS_OFFLINE = True
    return True
