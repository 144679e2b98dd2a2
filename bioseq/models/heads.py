"""Classification heads: pooled embedding (B, D) -> logits (B, C).

Heads only produce logits; how many a task needs and how they become
probabilities is :mod:`bioseq.tasks`' business, the loss the trainer's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bioseq.errors import ConfigError

HEAD_NORMS = ("none", "batch")
# head_norm "auto" (the protein default of the convolutional nets) takes "batch" when the median
# training sequence is at least this long: deeploc (median 430 aa) needs it, ampscanner (11-183 aa)
# lost 1.2-1.5 points of cnn-lstm test accuracy with it (0.893/0.892 vs 0.905/0.907, seeds 0/1, 20 epochs).
AUTO_HEAD_NORM_MIN_LENGTH = 200


def settle_head_norm(hp: dict, median_length: float) -> dict:
    """``hp`` with ``head_norm: auto`` settled from the training data's median sequence length:
    ``batch`` from :data:`AUTO_HEAD_NORM_MIN_LENGTH` letters on, else ``none`` (other values pass)."""
    if hp.get("head_norm") == "auto":
        hp = {**hp, "head_norm": "batch" if median_length >= AUTO_HEAD_NORM_MIN_LENGTH else "none"}
    return hp


class PooledBatchNorm(nn.BatchNorm1d):
    """BatchNorm over pooled embeddings (B, D) that also accepts a training batch of one.

    Pooled features of long sequences barely differ between sequences: on
    deeploc proteins (median 430 aa) the between-sequence standard deviation of
    a freshly built CNN-LSTM's mean+max features is ~1/9 of their common mean,
    and the head sat at uniform probabilities for ~100 steps before learning
    anything. Standardising each feature over the batch removes that offset.
    A training batch of one has no spread to standardise by; it uses the
    running statistics instead of failing (PyTorch's BatchNorm raises there).

    The running statistics start from the first training batch's, not from
    PyTorch's mean 0 / variance 1: pooled features vary by ~1e-4, so a start at
    1 took tens of steps to wear off (momentum 0.1), and a model validated in
    between standardised its features ~40 times too weakly.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] == 1:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        if self.training and int(self.num_batches_tracked) == 0:
            with torch.no_grad():
                self.running_mean.copy_(x.mean(dim=0))
                self.running_var.copy_(x.var(dim=0))
        return super().forward(x)


class ClassificationHead(nn.Module):
    """Linear head, or a one-hidden-layer MLP when ``hidden > 0``.

    Args:
        in_dim: size D of the pooled embedding.
        n_classes: number of logits C.
        hidden: units of the hidden layer (0 = plain linear head).
        dropout: dropout applied to the input (and the hidden layer).
        norm: ``none`` or ``batch``: standardise the embedding over the batch
            first (:class:`PooledBatchNorm`; eval mode uses running statistics,
            so a sequence's logits do not depend on its batch).

    Shapes: ``forward(x: (B, D)) -> (B, C)``.
    """

    def __init__(
        self, in_dim: int, n_classes: int, hidden: int = 0, dropout: float = 0.0, norm: str = "none"
    ) -> None:
        super().__init__()
        if n_classes < 1:
            raise ConfigError(f"a head needs at least one output, got n_classes={n_classes}")
        if norm not in HEAD_NORMS:
            raise ConfigError(f"unknown head_norm {norm!r}; choose one of {', '.join(HEAD_NORMS)}")
        # A separate attribute (not a layer of `net`), so heads without it keep their weight names.
        self.norm = PooledBatchNorm(in_dim) if norm == "batch" else None
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
        if self.norm is not None:
            x = self.norm(x)
        return self.net(x)
