"""Classification heads: pooled embedding (B, D) -> logits (B, C).

Tasks and their outputs (the trainer picks the loss; heads only produce logits):

* ``binary``: C = 2 logits, softmax (two logits instead of one keeps every
  task but multilabel on the same cross-entropy/softmax path);
* ``multiclass``: C = number of classes, softmax;
* ``multilabel``: C = number of labels, independent sigmoids.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bioseq.errors import ConfigError

TASKS = ("binary", "multiclass", "multilabel")


def check_task(task: str) -> str:
    """Return ``task`` or raise :class:`ConfigError` naming the valid tasks."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return task


def n_outputs(task: str, n_labels: int) -> int:
    """Number of logits C for ``task`` with ``n_labels`` labels (binary: 2)."""
    check_task(task)
    if task == "binary" and n_labels != 2:
        raise ConfigError(f"a binary task needs exactly 2 labels, got {n_labels}")
    if task == "multiclass" and n_labels < 2:
        raise ConfigError(f"a multiclass task needs at least 2 labels, got {n_labels}")
    if n_labels < 1:
        raise ConfigError("a multilabel task needs at least 1 label")
    return n_labels


def logits_to_probs(logits: torch.Tensor, task: str) -> torch.Tensor:
    """Probabilities (B, C) from logits (B, C): softmax, or sigmoid for multilabel."""
    check_task(task)
    return torch.sigmoid(logits) if task == "multilabel" else torch.softmax(logits, dim=-1)


def logits_to_probs_np(logits: np.ndarray, task: str) -> np.ndarray:
    """NumPy twin of :func:`logits_to_probs` (float64 math, float32 result)."""
    check_task(task)
    z = np.asarray(logits, dtype=np.float64)
    if task == "multilabel":
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # a sigmoid that never overflows
    else:
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
    return p.astype(np.float32)


class ClassificationHead(nn.Module):
    """Linear head, or a one-hidden-layer MLP when ``hidden > 0``.

    Args:
        in_dim: size D of the pooled embedding.
        n_classes: number of logits C.
        hidden: units of the hidden layer (0 = plain linear head).
        dropout: dropout applied to the input (and the hidden layer).

    Shapes: ``forward(x: (B, D)) -> (B, C)``.
    """

    def __init__(self, in_dim: int, n_classes: int, hidden: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        if n_classes < 1:
            raise ConfigError(f"a head needs at least one output, got n_classes={n_classes}")
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if hidden and hidden > 0:
            layers += [nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                       nn.Linear(hidden, n_classes)]
        else:
            layers.append(nn.Linear(in_dim, n_classes))
        self.net = nn.Sequential(*layers)
        self.in_dim = in_dim
        self.n_classes = n_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
