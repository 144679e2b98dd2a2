"""The trainable heads of ``--arch esm-head`` on a frozen encoder's per-residue embeddings.

* ``light-attention`` (Stärk et al. 2021, "Light attention predicts protein
  location from the language of life"): two 1-D convolutions over the residues
  (kernel 9) give values and attention logits per channel; the values are
  pooled by a softmax over the residues (per channel) and by a max, the two
  ``D``-vectors concatenated (``2D``: the head's pooled embedding) and
  classified by ``Linear(2D, hidden) -> dropout -> ReLU -> BatchNorm -> Linear(hidden, C)``.
* ``mean-mlp``: the mean over residues (``D``) into the same MLP; for encoders
  without per-residue embeddings, or when light attention is too slow.

Inputs: ``x`` float ``(B, L, D)`` zero-padded, ``mask`` bool ``(B, L)`` True at
real residues; padding never changes a sequence's output (masked softmax/max,
zeros under the convolutions' reach exactly as at a sequence end).
"""

from __future__ import annotations

import torch
from torch import nn

HEADS = ("light-attention", "mean-mlp")


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(dim, hidden), nn.Dropout(dropout), nn.ReLU(), nn.BatchNorm1d(hidden))
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(pooled))


class LightAttention(nn.Module):
    """Light attention over ``(B, L, D)`` residue embeddings -> logits ``(B, C)``; pooled ``(B, 2D)``."""

    def __init__(self, dim: int, n_classes: int, hidden: int = 32, kernel_size: int = 9, dropout: float = 0.25):
        super().__init__()
        pad = kernel_size // 2
        self.values = nn.Conv1d(dim, dim, kernel_size, padding=pad)
        self.attention = nn.Conv1d(dim, dim, kernel_size, padding=pad)
        self.dropout = nn.Dropout(dropout)
        self.mlp = _Mlp(2 * dim, hidden, n_classes, dropout)
        self.embedding_dim = 2 * dim

    def pooled(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, 2D)``: attention-weighted sum and max of the value channels over real residues."""
        x = (x * mask.unsqueeze(-1)).transpose(1, 2)  # (B, D, L), padding zeroed
        values = self.dropout(self.values(x))
        logits = self.attention(x).masked_fill(~mask.unsqueeze(1), float("-inf"))
        attended = (values * torch.softmax(logits, dim=-1)).sum(dim=-1)
        maxed = values.masked_fill(~mask.unsqueeze(1), float("-inf")).amax(dim=-1)
        return torch.cat([attended, maxed], dim=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.pooled(x, mask))


class MeanMlp(nn.Module):
    """Mean over real residues ``(B, D)`` -> MLP -> logits ``(B, C)``."""

    def __init__(self, dim: int, n_classes: int, hidden: int = 32, kernel_size: int = 9, dropout: float = 0.25):
        super().__init__()
        self.mlp = _Mlp(dim, hidden, n_classes, dropout)
        self.embedding_dim = dim

    def pooled(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(x.dtype)
        return (x * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.pooled(x, mask))


def build_head(kind: str, dim: int, n_classes: int, hidden: int, kernel_size: int, dropout: float) -> nn.Module:
    cls = LightAttention if kind == "light-attention" else MeanMlp
    return cls(dim, n_classes, hidden=hidden, kernel_size=kernel_size, dropout=dropout)
