"""What genome scans and variant scoring need to know about a model: its input length, the
class to report and whether it is strand-symmetric."""

from __future__ import annotations

from typing import Any

from bioseq.errors import ConfigError


def _members(model: Any) -> list[Any]:
    return list(getattr(model, "members", None) or [model])


def model_length(model: Any, given: int | None = None) -> int:
    """``given``, else the model's training length: ``long_input["max_bases"]`` (an ensemble: the
    largest of its members'). A model that takes any length (kmer-linear) needs ``given``."""
    if given is not None:
        if given < 1:
            raise ConfigError(f"the window must be >= 1 letters, got {given}")
        return given
    spans = [int(m.long_input["max_bases"]) for m in _members(model) if (m.long_input or {}).get("max_bases")]
    if not spans:
        raise ConfigError(
            f"this {model.arch} model takes sequences of any length and records no training length: "
            "give the window length (--window)"
        )
    return max(spans)


def class_index(model: Any, name: str | None) -> int:
    """Column of class ``name``; None: the positive class (``labels[1]``) of a binary model."""
    labels = list(model.labels)
    if name is None:
        if model.task == "binary" and len(labels) == 2:
            return 1
        raise ConfigError(f"a {model.task} model: choose the class to report with --class ({', '.join(labels)})")
    if name not in labels:
        raise ConfigError(f"unknown class {name!r}; the model's classes are {', '.join(labels)}")
    return labels.index(name)


def strand_symmetric(model: Any) -> bool:
    """True when every member reads both strands alike: canonical k-mers, or trained with
    reverse-complement augmentation."""
    def one(m: Any) -> bool:
        tok = getattr(m, "tokenizer", None)
        training = (getattr(m, "metadata", None) or {}).get("training") or {}
        return bool(getattr(tok, "canonical", False) or training.get("augment_rc"))

    return all(one(m) for m in _members(model))
