"""The schema of a stored model configuration: what a bundle's metadata may hold.

A bundle is checked by its fingerprint, but the fingerprint only says the file
is as it was written; whoever edits the metadata can write a new one. So the
metadata is also checked against this schema before anything is built from it:
an edited bundle may predict differently (that is what editing a model means),
but it must never crash bioseq, nor label its output columns wrongly. Types,
sizes and nesting are bounded; labels are unique, non-empty and free of the
characters that would break a prediction table; the task agrees with the
number of labels; thresholds are finite numbers, one per label.
"""

from __future__ import annotations

import math
import re
from typing import Any

from bioseq.errors import BundleError
from bioseq.tasks import TASKS

# The kind of a pretrained encoder bundle (bioseq.models.encoder): a trunk and a masked-token
# head, no labels or task; defined here so the schema and the encoder agree without a cycle.
ENCODER_KIND = "encoder"
MAX_DEPTH = 32  # nesting of JSON containers in the metadata (history lists of dicts need 3)
MAX_LABELS = 100_000
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_BAD_LABEL_CHARS = ("\t", "\n", "\r", ",")


def check_depth(obj: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` (checked without recursion, so any depth is safe)."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                raise BundleError(f"metadata is nested more than {limit} levels deep")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)


def check_config(info: dict[str, Any], ensemble_kind: str = "ensemble") -> None:
    """Check a model configuration (a bundle's metadata or one ensemble member's).

    Raises:
        BundleError: the first key whose value is of the wrong type or inconsistent,
            named in the message.
    """
    _expect(info.get("arch"), str, "arch")
    if not info["arch"]:
        raise BundleError("metadata key 'arch' is empty")
    if info.get("kind") not in ("torch", "sklearn", ensemble_kind, ENCODER_KIND):
        raise BundleError(
            f"metadata key 'kind' must be torch, sklearn, {ensemble_kind} or {ENCODER_KIND}, got {info.get('kind')!r}"
        )
    if info["kind"] != ENCODER_KIND:
        _check_labels_and_task(info)
    if info["kind"] == ensemble_kind:
        _check_ensemble(info)
        return
    _expect(info.get("hparams"), dict, "hparams")
    _expect(info.get("tokenizer"), dict, "tokenizer")
    if info.get("long_input") is not None:
        _expect(info["long_input"], dict, "long_input")


def check_fingerprint(info: dict[str, Any]) -> str:
    """The stored fingerprint (64 lower-case hex digits); missing is an error, not a skip."""
    fp = info.get("fingerprint")
    if not isinstance(fp, str) or not _FINGERPRINT.fullmatch(fp):
        raise BundleError(
            "metadata has no valid 'fingerprint' (sha256 hex): the bundle cannot be checked, so it is refused"
        )
    return fp


def _check_labels_and_task(info: dict[str, Any]) -> None:
    labels = info.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels):
        raise BundleError("metadata key 'labels' must be a non-empty list of non-empty strings")
    if len(labels) > MAX_LABELS:
        raise BundleError(f"metadata key 'labels' holds {len(labels)} labels (at most {MAX_LABELS})")
    if len(set(labels)) != len(labels):
        raise BundleError("metadata key 'labels' repeats a label: prediction columns would be ambiguous")
    bad = [x for x in labels if any(c in x for c in _BAD_LABEL_CHARS)]
    if bad:
        raise BundleError(f"label {bad[0]!r} holds a tab, newline or comma: it cannot name a table column")
    task = info.get("task")
    if task not in TASKS:
        raise BundleError(f"metadata key 'task' must be one of {', '.join(TASKS)}, got {task!r}")
    if task == "binary" and len(labels) != 2 or task == "multiclass" and len(labels) < 2:
        raise BundleError(f"a {task} model cannot have {len(labels)} label(s)")
    thresholds = info.get("thresholds")
    if thresholds is not None:
        ok = isinstance(thresholds, list) and len(thresholds) == len(labels)
        if not ok or not all(_finite_number(t) for t in thresholds):
            raise BundleError("metadata key 'thresholds' must be null or one finite number per label")


def _check_ensemble(info: dict[str, Any]) -> None:
    members, weights = info.get("members"), info.get("weights")
    if not isinstance(members, list) or not members or not all(isinstance(m, dict) for m in members):
        raise BundleError("metadata key 'members' must be a non-empty list of member configurations")
    if not isinstance(weights, list) or len(weights) != len(members):
        raise BundleError("metadata key 'weights' must hold one weight per member")
    if not all(_finite_number(w) and w >= 0 for w in weights) or not sum(weights) > 0:
        raise BundleError("ensemble weights must be finite, non-negative and not all zero")
    for i, member in enumerate(members):
        if member.get("kind") not in ("torch", "sklearn"):
            raise BundleError(f"ensemble member {i}: 'kind' must be torch or sklearn, got {member.get('kind')!r}")
        try:
            check_config(member)
        except BundleError as exc:
            raise BundleError(f"ensemble member {i}: {exc.message}") from None


def _expect(value: Any, kind: type, key: str) -> None:
    if not isinstance(value, kind):
        raise BundleError(f"metadata key {key!r} must be a {'JSON object' if kind is dict else kind.__name__}, "
                          f"got {type(value).__name__}")


def _finite_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
