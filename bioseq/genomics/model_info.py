"""What genome scans and variant scoring need to know about a model: its input length, the
class to report and whether it is strand-symmetric."""

from __future__ import annotations

from typing import Any

from bioseq.errors import ConfigError


def _members(model: Any) -> list[Any]:
    return list(getattr(model, "members", None) or [model])


def training_length(model: Any) -> int | None:
    """The typical (median) length of the model's training sequences, recorded in the bundle as
    ``train_lengths`` by every architecture (an ensemble records its own); None for a bundle
    written before bioseq recorded it."""
    lengths = (getattr(model, "metadata", None) or {}).get("train_lengths") or {}
    median = lengths.get("median")
    return int(median) if isinstance(median, int) and not isinstance(median, bool) and median > 0 else None


def model_length(model: Any, given: int | None = None) -> int:
    """``given``, else the model's training length (:func:`training_length`), so that a scan or a
    variant scores windows like the sequences the model learnt from. A bundle that does not record
    it needs ``given``: the longest input a net accepts (``long_input.max_bases``) says nothing of
    the length it was trained on, and kmer-linear takes any length."""
    if given is not None:
        if given < 1:
            raise ConfigError(f"the window must be >= 1 letters, got {given}")
        return given
    length = training_length(model)
    if length is None:
        raise ConfigError(
            f"this {model.arch} model's bundle records no training sequence length (it was saved before "
            "bioseq recorded train_lengths): give the window length with --window"
        )
    return length


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
