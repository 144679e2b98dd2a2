"""The model fingerprint: one sha256 over weights and prediction-relevant configuration.

It identifies a model for embedding caches and lets a bundle check its own
integrity: the sha256 over the tensors (name, dtype, shape, bytes, in name
order) and the canonical JSON of :data:`FINGERPRINT_KEYS` (history, metrics
and timestamps excluded), so retraining to identical weights gives the
identical fingerprint and any change to weights, tokenizer, labels or
thresholds gives another.

An ensemble (``kind: "ensemble"``, :mod:`bioseq.models.ensemble`) adds two
keys: ``members`` (each member's configuration, projected on the same keys, so
a member's validation record is not covered but its architecture,
hyper-parameters, tokenizer and long-input policy are) and ``weights``. Its
tensors are every member's, under ``members.<i>.``, so one sha256 covers all
members, their configurations and the weights. Configurations without these
keys hash exactly as before; so do configurations without the :data:`OPTIONAL_KEYS`.
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
# Keys of an ensemble's configuration, covered when present.
ENSEMBLE_KEYS = ("members", "weights")
# Keys covered only when present, so configurations from before they existed hash as before:
# ``strands`` ("both": test-time reverse-complement averaging, see Classifier.strands).
OPTIONAL_KEYS = ("strands",)


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
    h.update(canonical_json(fingerprint_config(meta)).encode())
    return h.hexdigest()


def fingerprint_config(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``meta`` the fingerprint covers: :data:`FINGERPRINT_KEYS`, and for an
    ensemble its ``weights`` and each member's configuration (projected the same way)."""
    cfg = {k: meta.get(k) for k in FINGERPRINT_KEYS}
    cfg.update({k: meta[k] for k in OPTIONAL_KEYS if k in meta})
    if any(k in meta for k in ENSEMBLE_KEYS):
        members = meta.get("members")
        cfg["members"] = (
            [fingerprint_config(m) if isinstance(m, Mapping) else m for m in members]
            if isinstance(members, list)
            else members
        )
        cfg["weights"] = meta.get("weights")
    return cfg


class Fingerprinted:
    """The cached :attr:`fingerprint` of anything with ``config()`` and ``state_arrays()``.

    Recomputed when the configuration changes (labels, thresholds, ...) or after
    :meth:`refresh_fingerprint`, which callers use after changing weights in place.
    Subclasses set ``_fingerprint = None`` whenever they load new weights.
    """

    _fingerprint: str | None = None
    _fingerprint_key: str = ""

    def config(self) -> dict[str, Any]:  # pragma: no cover - provided by the subclass
        raise NotImplementedError

    def state_arrays(self) -> dict[str, np.ndarray]:  # pragma: no cover - provided by the subclass
        raise NotImplementedError

    @property
    def fingerprint(self) -> str:
        """sha256 hex of the weights and the prediction-relevant configuration."""
        cfg = self.config()
        key = canonical_json(cfg)
        if self._fingerprint is None or self._fingerprint_key != key:
            self._fingerprint = compute_fingerprint(self.state_arrays(), cfg)
            self._fingerprint_key = key
        return self._fingerprint

    def refresh_fingerprint(self) -> str:
        """Recompute :attr:`fingerprint` (after weights were changed in place)."""
        self._fingerprint = None
        return self.fingerprint
