"""The model fingerprint: one sha256 over weights and prediction-relevant configuration.

It identifies a model for embedding caches and lets a bundle check its own
integrity: the sha256 over the tensors (name, dtype, shape, bytes, in name
order) and the canonical JSON of :data:`FINGERPRINT_KEYS` (history, metrics
and timestamps excluded), so retraining to identical weights gives the
identical fingerprint and any change to weights, tokenizer, labels or
thresholds gives another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

# The "format" entry of every model configuration (and of bundle metadata).
FINGERPRINT_FORMAT = "bioseq-model"
FINGERPRINT_KEYS = (
    "format",
    "arch",
    "kind",
    "hparams",
    "tokenizer",
    "alphabet",
    "labels",
    "task",
    "thresholds",
    "long_input",
)


def canonical_json(obj: Any) -> str:
    """Compact, key-sorted JSON: the same config always gives the same bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)


def compute_fingerprint(tensors: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> str:
    """sha256 hex of the tensors and the :data:`FINGERPRINT_KEYS` part of ``meta``."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        h.update(f"{name}\0{arr.dtype.str}\0{arr.shape}\0".encode())
        h.update(arr.tobytes())
    h.update(canonical_json({k: meta.get(k) for k in FINGERPRINT_KEYS}).encode())
    return h.hexdigest()
