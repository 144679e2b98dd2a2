"""Classification tasks, label encoding and the logits -> probabilities rule.

Defined once, at the lowest layer, because everything above needs them: the
nets (how many outputs), inference (softmax or sigmoid), training (targets,
class weights) and evaluation (which metrics apply).

* ``binary``: two labels, two logits, softmax (two logits instead of one keep
  every task but multilabel on the same softmax path, and every task writes one
  ``prob_<label>`` column per label);
* ``multiclass``: C labels, C logits, softmax;
* ``multilabel``: C labels, C logits, independent sigmoids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bioseq.errors import ConfigError, LabelError

TASKS = ("binary", "multiclass", "multilabel")


def check_task(task: str) -> str:
    """Return ``task`` or raise :class:`ConfigError` naming the valid tasks."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return task


def probabilities(logits: np.ndarray, task: str) -> np.ndarray:
    """Class probabilities float32 ``(n, C)`` from logits ``(n, C)``.

    Softmax over the classes, or an independent sigmoid per label for
    ``multilabel``; computed in float64 so that no logit overflows.
    """
    check_task(task)
    z = np.asarray(logits, dtype=np.float64)
    if task == "multilabel":
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # a sigmoid that never overflows
    else:
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
    return p.astype(np.float32)


@dataclass(frozen=True)
class LabelEncoder:
    """Maps label tuples to training targets, and probabilities back to labels.

    Attributes:
        labels: class names; index = output column of the model.
        task: ``binary`` | ``multiclass`` | ``multilabel``.
    """

    labels: tuple[str, ...]
    task: str

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise LabelError(f"unknown task {self.task!r}; expected one of {', '.join(TASKS)}")

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    @property
    def multilabel(self) -> bool:
        return self.task == "multilabel"

    def encode(
        self, label_sets: Sequence[Sequence[str]], ids: Sequence[str] | None = None, path: str | None = None
    ) -> np.ndarray:
        """Targets for a list of label tuples.

        Returns:
            int64 ``(n,)`` class indices (single-label) or float32 ``(n, C)``
            multi-hot rows (multilabel).

        Raises:
            LabelError: a label unknown to the encoder (names the record), or
                several labels on a record of a single-label task.
        """
        index = {lab: i for i, lab in enumerate(self.labels)}
        n = len(label_sets)
        out = np.zeros((n, self.n_classes), np.float32) if self.multilabel else np.zeros(n, np.int64)
        for row, labs in enumerate(label_sets):
            rec = ids[row] if ids is not None else None
            if not labs:
                raise LabelError("record has no label", path=path, record=rec)
            if not self.multilabel and len(labs) > 1:
                raise LabelError(f"record has {len(labs)} labels but the task is {self.task}", path=path, record=rec)
            for lab in labs:
                if lab not in index:
                    raise LabelError(
                        f"label {lab!r} is unknown to the model (known: {', '.join(self.labels)})",
                        path=path,
                        record=rec,
                    )
                if self.multilabel:
                    out[row, index[lab]] = 1.0
                else:
                    out[row] = index[lab]
        return out

    def decode(self, probs: np.ndarray, thresholds: Sequence[float] | None = None) -> list[str]:
        """Predicted label per row of ``probs`` (n, C).

        Single-label: the arg-max class. Multilabel: every label whose
        probability reaches its threshold (default 0.5), comma-separated, in
        label order; an empty string when none does.
        """
        probs = np.asarray(probs)
        if not self.multilabel:
            return [self.labels[i] for i in probs.argmax(axis=1)]
        thr = np.full(self.n_classes, 0.5) if thresholds is None else np.asarray(thresholds, float)
        hits = probs >= thr[None, :]
        return [",".join(lab for lab, h in zip(self.labels, row, strict=True) if h) for row in hits]

    def class_weights(self, y: np.ndarray, mode: str | None = "balanced") -> np.ndarray | None:
        """Loss weights that counter class imbalance, or None.

        Single-label: scikit-learn's "balanced" ``n / (C * n_c)`` per class
        (``(C,)`` float32; a class absent from training gets weight 1).
        Multilabel: BCE ``pos_weight = n_neg / n_pos`` per label, capped at 100
        so a label seen once cannot dominate the loss.
        """
        if mode is None:
            return None
        if mode != "balanced":
            raise LabelError(f"unknown class_weight {mode!r}; use 'balanced' or None")
        if self.multilabel:
            pos = y.sum(axis=0)
            neg = y.shape[0] - pos
            w = np.where(pos > 0, neg / np.maximum(pos, 1), 1.0)
            return np.clip(w, 1e-3, 100.0).astype(np.float32)
        counts = np.bincount(y, minlength=self.n_classes).astype(np.float64)
        w = np.where(counts > 0, len(y) / (self.n_classes * np.maximum(counts, 1)), 1.0)
        return w.astype(np.float32)
