"""The :class:`EnsembleClassifier`: a weighted average of trained classifiers' probabilities.

What ``bioseq train --arch auto`` keeps (:mod:`bioseq.training.auto` trains the
candidates and chooses the weights). It answers the same questions as a
:class:`~bioseq.models.classifier.Classifier` -- ``labels``, ``task``,
``alphabet``, ``fingerprint``, ``predict_proba_sequences``, ``embed_sequences``,
``decide``, ``metadata`` -- so prediction, embedding, evaluation, ``bioseq info``
and the workflow take either.

* Probabilities: ``sum_i w_i * p_i`` over the members (weights ``>= 0``, summing
  to one), accumulated in float64 and returned as float32 by
  :func:`weighted_average`, the one definition training's weight selection uses
  too, so the validation score chosen there is exactly the ensemble's.
* Embedding: the concatenation of the members' embeddings (each member's pooled
  features, unweighted, in member order); ``embedding_dim`` is the sum of the
  members'. Per-position embeddings are refused (no single trunk).
* Members share labels, task and alphabet (they are trained on the same data)
  but may each have their own tokenizer (kmer-linear k=4, cnn-lstm k=1,
  transformer k=4 stride 2) and long-input policy.

"auto" is a training mode, not an architecture of the model registry: the
ensemble is no registry entry, and the registry refuses a plugin named "auto"
(:data:`bioseq.models.registry.AUTO`).

Bundle layout (written by :func:`bioseq.bundle.save_bundle`, format version 3):
tensors of member ``i`` under ``members.<i>.``; metadata ``arch: "auto"``,
``kind: "ensemble"``, ``labels``, ``task``, ``alphabet``, ``thresholds``,
``weights`` and ``members`` (each member's :meth:`Classifier.config` plus its
validation record: ``metrics``, ``selection_metric``, ``best_epoch``,
``stopped``, ``training``). The fingerprint covers all members' tensors, their
configurations and the weights (:func:`bioseq.models.fingerprint.fingerprint_config`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bioseq.errors import BundleError, ConfigError
from bioseq.models.classifier import Classifier
from bioseq.models.fingerprint import FINGERPRINT_FORMAT, Fingerprinted
from bioseq.models.registry import AUTO
from bioseq.tasks import LabelEncoder

ENSEMBLE_ARCH = AUTO  # the registry reserves the name
ENSEMBLE_KIND = "ensemble"
MEMBER_PREFIX = "members.{}."
# The informational part of a member's metadata stored beside its configuration (not fingerprinted).
MEMBER_RECORD_KEYS = ("metrics", "selection_metric", "best_epoch", "stopped", "training")
_WEIGHT_TOLERANCE = 1e-6


def weighted_average(probs: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """``sum_i weights[i] * probs[i]`` in float64, returned as float32 (the ensemble's probabilities).

    A single member of weight 1 gives its probabilities back bit for bit.
    """
    total = np.zeros(np.shape(probs[0]), np.float64)
    for p, w in zip(probs, weights, strict=True):
        if w:
            total += float(w) * np.asarray(p, np.float64)
    return total.astype(np.float32)


def check_weights(weights: Sequence[float], n_members: int) -> list[float]:
    """``weights`` as floats; :class:`ConfigError` unless one finite weight ``> 0`` per member summing to one."""
    try:
        w = [float(x) for x in weights]
    except (TypeError, ValueError):
        raise ConfigError(f"ensemble weights must be numbers, got {weights!r}") from None
    if len(w) != n_members or n_members == 0:
        raise ConfigError(f"an ensemble needs one weight per member: {len(w)} weights for {n_members} members")
    if not all(np.isfinite(x) and x > 0 for x in w) or abs(sum(w) - 1.0) > _WEIGHT_TOLERANCE:
        raise ConfigError(f"ensemble weights must be > 0 and sum to 1, got {w}")
    return w


class EnsembleClassifier(Fingerprinted):
    """Members (:class:`~bioseq.models.classifier.Classifier`) and their weights.

    Attributes:
        arch: ``"auto"``; kind: ``"ensemble"``.
        members: the member classifiers, in bundle order.
        weights: one float per member, ``> 0``, summing to one.
        labels, task, thresholds: shared by all members (thresholds: 0.5 per label for multilabel).
        metadata: everything else stored in the bundle (candidates, metrics, history, ...).
    """

    arch = ENSEMBLE_ARCH
    kind = ENSEMBLE_KIND

    def __init__(
        self,
        members: Sequence[Classifier],
        weights: Sequence[float],
        *,
        thresholds: Sequence[float] | None = None,
        metadata: dict | None = None,
    ) -> None:
        self.members = list(members)
        self.weights = check_weights(weights, len(self.members))
        first = self.members[0]
        for i, m in enumerate(self.members[1:], start=1):
            if (m.labels, m.task, m.alphabet) != (first.labels, first.task, first.alphabet):
                raise ConfigError(
                    f"ensemble member {i} ({m.arch}) has labels {m.labels}, task {m.task}, alphabet {m.alphabet}; "
                    f"member 0 ({first.arch}) has {first.labels}, {first.task}, {first.alphabet}"
                )
        self.labels = list(first.labels)
        self.task = first.task
        self.thresholds = (
            [float(t) for t in thresholds]
            if thresholds is not None
            else ([0.5] * len(self.labels) if self.task == "multilabel" else None)
        )
        self.metadata = dict(metadata or {})

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, info: dict, tensors: dict[str, np.ndarray], device: Any = "cpu") -> EnsembleClassifier:
        """Rebuild an ensemble from bundle metadata and tensors (see :func:`bioseq.bundle.load`).

        Raises:
            BundleError: malformed ``members``/``weights``, a member that does not
                load (the message names it), or tensors of no member.
        """
        members_info, weights = info.get("members"), info.get("weights")
        if not isinstance(members_info, list) or not members_info or not all(isinstance(m, dict) for m in members_info):
            raise BundleError("ensemble metadata: 'members' must be a non-empty list of member descriptions")
        if not isinstance(weights, list):
            raise BundleError("ensemble metadata: 'weights' must be a list")
        members, claimed = [], set()
        for i, minfo in enumerate(members_info):
            prefix = MEMBER_PREFIX.format(i)
            mtensors = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            claimed.update(prefix + k for k in mtensors)
            try:
                members.append(Classifier.from_arrays(minfo, mtensors, device=device))
            except (BundleError, KeyError, TypeError) as exc:
                why = exc.message if isinstance(exc, BundleError) else f"missing or bad key {exc}"
                raise BundleError(f"ensemble member {i} ({minfo.get('arch')!r}): {why}") from None
        stray = sorted(set(tensors) - claimed)
        if stray:
            raise BundleError(f"ensemble bundle holds tensors of no member: {', '.join(stray[:3])}")
        try:
            model = cls(members, weights, thresholds=info.get("thresholds"), metadata=info)
        except ConfigError as exc:
            raise BundleError(f"ensemble metadata: {exc.message}") from None
        if (model.labels, model.task, model.alphabet) != (info.get("labels"), info.get("task"), info.get("alphabet")):
            raise BundleError("ensemble metadata: labels, task or alphabet differ from the members'")
        return model

    # ------------------------------------------------------------------ weights and config
    def state_arrays(self) -> dict[str, np.ndarray]:
        """Every member's arrays, under ``members.<i>.``."""
        out = {}
        for i, m in enumerate(self.members):
            out.update({MEMBER_PREFIX.format(i) + k: v for k, v in m.state_arrays().items()})
        return out

    def member_config(self, i: int) -> dict[str, Any]:
        """Member ``i``'s configuration and validation record, as stored under ``members`` in the bundle."""
        m = self.members[i]
        record = {k: m.metadata[k] for k in MEMBER_RECORD_KEYS if k in m.metadata}
        return {**record, **m.config()}

    def config(self) -> dict[str, Any]:
        """The ensemble's configuration (the fingerprint covers it minus the members' validation records)."""
        return {
            "format": FINGERPRINT_FORMAT,
            "arch": self.arch,
            "kind": self.kind,
            "alphabet": self.alphabet,
            "labels": self.labels,
            "task": self.task,
            "thresholds": self.thresholds,
            "members": [self.member_config(i) for i in range(len(self.members))],
            "weights": self.weights,
        }

    @property
    def alphabet(self) -> str:
        return self.members[0].alphabet

    @property
    def embedding_dim(self) -> int:
        """Sum of the members' embedding dimensions (the embedding is their concatenation)."""
        return sum(m.embedding_dim for m in self.members)

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    @property
    def device(self) -> Any:
        return self.members[0].device

    @device.setter
    def device(self, device: Any) -> None:
        self.to(device)

    def to(self, device: Any) -> EnsembleClassifier:
        for m in self.members:
            m.to(device)
        return self

    def __repr__(self) -> str:
        parts = ", ".join(f"{m.arch}:{w:.3g}" for m, w in zip(self.members, self.weights, strict=True))
        return (
            f"{type(self).__name__}(members=[{parts}], task={self.task!r}, labels={self.labels!r}, "
            f"alphabet={self.alphabet!r}, fingerprint={self.fingerprint[:12]!r})"
        )

    # ------------------------------------------------------------------ sequences in memory
    def predict_proba_sequences(
        self,
        seqs: Sequence[str],
        batch_size: int = 256,
        both_strands: bool = False,
        ids: Sequence[str] | None = None,
        progress: Any = None,
    ) -> np.ndarray:
        """The weighted average of the members' probabilities, float32 ``(n, C)``
        (``progress``: see :func:`bioseq.models.inference.score_sequences`, reported per member)."""
        seqs = list(seqs)
        kw = {"batch_size": batch_size, "both_strands": both_strands, "ids": ids, "progress": progress}
        probs = [m.predict_proba_sequences(seqs, **kw) for m in self.members]
        return weighted_average(probs, self.weights)

    def embed_sequences(
        self,
        seqs: Sequence[str],
        batch_size: int = 256,
        both_strands: bool = False,
        ids: Sequence[str] | None = None,
        progress: Any = None,
    ) -> np.ndarray:
        """The members' embeddings side by side, float32 ``(n, embedding_dim)``."""
        seqs = list(seqs)
        parts = [
            m.embed_sequences(seqs, batch_size=batch_size, both_strands=both_strands, ids=ids, progress=progress)
            for m in self.members
        ]
        return np.concatenate(parts, axis=1).astype(np.float32, copy=False)

    def embed_positions(self, seqs: Sequence[str], batch_size: int = 64, ids: Sequence[str] | None = None) -> Any:
        raise ConfigError(
            "per-position embeddings need a single neural trunk; an auto ensemble has "
            f"{len(self.members)} members ({', '.join(m.arch for m in self.members)})"
        )

    def decide(self, probs: np.ndarray) -> list[str]:
        """Predicted labels for probabilities ``(n, C)`` (arg-max, or thresholds for multilabel)."""
        return LabelEncoder(tuple(self.labels), self.task).decode(probs, self.thresholds)
