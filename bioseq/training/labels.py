"""Label encoding, task inference and class weights.

The task is inferred from the labels themselves, so a user never has to say
it: any record carrying more than one label makes the problem *multilabel*
(one sigmoid per label); otherwise two classes make it *binary* and more make
it *multiclass* (one softmax over the classes; a binary model also has two
outputs, so every task writes one ``prob_<label>`` column per label).
Label order is sorted, which makes it independent of record order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from bioseq.errors import LabelError

TASKS = ("binary", "multiclass", "multilabel")


def infer_task(label_sets: Iterable[Sequence[str]]) -> tuple[str, list[str]]:
    """Infer ``(task, sorted labels)`` from per-record label tuples.

    Raises:
        LabelError: fewer than two distinct labels (nothing to classify).
    """
    seen: set[str] = set()
    multi = False
    for labs in label_sets:
        if len(labs) > 1:
            multi = True
        seen.update(labs)
    labels = sorted(seen)
    if multi:
        if not labels:
            raise LabelError("no labels found in the training data")
        return "multilabel", labels
    if len(labels) < 2:
        raise LabelError(
            f"the training data has {len(labels)} distinct label(s) ({', '.join(labels) or 'none'}); "
            "a classifier needs at least two"
        )
    return ("binary" if len(labels) == 2 else "multiclass"), labels


@dataclass(frozen=True)
class LabelEncoder:
    """Maps label tuples to training targets and back.

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


def label_counts(label_sets: Iterable[Sequence[str]]) -> dict[str, int]:
    """Number of records carrying each label (for the log and the bundle)."""
    c: Counter[str] = Counter()
    for labs in label_sets:
        c.update(labs)
    return dict(sorted(c.items()))
