"""A sequence classifier net is a trunk, a pooling step and a head (gReLU's composition).

* **trunk** ``(ids (B, T) long, mask (B, T) bool) -> (h (B, T', H), mask (B, T'))``:
  per-position features; ``T'`` may differ from ``T`` (the CNN-LSTM pools, the
  Transformer may prepend a CLS position). ``trunk.out_dim == H``;
  ``trunk.prefix_positions`` counts leading positions that are not sequence
  (CLS), so per-position exports can drop them.
* **pool** ``(h, mask) -> (B, D)``: one vector per sequence from the valid
  positions only (:mod:`bioseq.models.pooling`); ``pool.out_dim == D``.
* **head** ``(B, D) -> (B, C)`` logits (:mod:`bioseq.models.heads`).

Architectures differ only in their trunk (and their choice of pooling), so
embeddings ("the input of the head"), per-position features and logits come
out of every architecture the same way, and inference never needs to know
which one it runs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class SequenceNet(nn.Module):
    """``trunk -> pool -> head``; see the module docstring for the shapes.

    Attributes:
        embedding_dim: D, the size of :meth:`features` (the pooled embedding).
        n_classes: C, the number of logits.
    """

    def __init__(self, trunk: nn.Module, pool: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.trunk = trunk
        self.pool = pool
        self.head = head
        self.embedding_dim: int = int(pool.out_dim)
        self.n_classes: int = int(head.n_classes)

    def positions(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-position features ``(B, T', H)`` and mask ``(B, T')`` without prefix (CLS) positions."""
        h, m = self.trunk(ids, mask)
        skip = int(getattr(self.trunk, "prefix_positions", 0))
        return (h[:, skip:], m[:, skip:]) if skip else (h, m)

    def features(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pooled embedding ``(B, embedding_dim)``: the head's input."""
        return self.pool(*self.trunk(ids, mask))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, C)`` for token ids ``(B, T)`` with mask ``(B, T)``, True = real token."""
        return self.head(self.features(ids, mask))

    @staticmethod
    def upgrade_state_keys(state: dict[str, Any]) -> dict[str, Any]:
        """Weights saved before nets were composed (format version 1) had the trunk's
        parameters at the top level; put them under ``trunk.``. Current names pass unchanged."""
        if any(k.startswith("trunk.") for k in state):
            return state
        return {k if k.startswith(("pool.", "head.")) else f"trunk.{k}": v for k, v in state.items()}
