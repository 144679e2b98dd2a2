"""Classification heads: pooled embedding (B, D) -> logits (B, C).

Heads only produce logits; how many a task needs and how they become
probabilities is :mod:`bioseq.tasks`' business, the loss the trainer's.
"""

from __future__ import annotations

import torch
from torch import nn

from bioseq.errors import ConfigError


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
