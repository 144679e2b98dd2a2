"""Pooling over valid positions: per-position features (B, T, H) -> one vector (B, D).

Padding must never leak into an embedding (DNABERT#130 averaged over padding),
so every pool here takes the boolean ``mask`` (B, T), True = real position, and
ignores the rest. Every row of ``mask`` must hold at least one True.
"""

from __future__ import annotations

import torch
from torch import nn

from bioseq.errors import ConfigError

POOLINGS = ("mean+max", "mean", "max", "attention", "cls")


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` (B, T, H) over positions where ``mask`` (B, T) is True -> (B, H)."""
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max of ``x`` (B, T, H) over positions where ``mask`` (B, T) is True -> (B, H)."""
    return x.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)


class MeanMaxPool(nn.Module):
    """Concatenation of masked mean and masked max: (B, T, H) -> (B, 2H).

    Mean captures composition, max captures the strongest motif hit; together
    they are a robust default for sequence classification.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_dim = 2 * dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.cat([masked_mean(x, mask), masked_max(x, mask)], dim=-1)


class MeanPool(nn.Module):
    """Masked mean: (B, T, H) -> (B, H)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return masked_mean(x, mask)


class MaxPool(nn.Module):
    """Masked max: (B, T, H) -> (B, H)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return masked_max(x, mask)


class AttentionPool(nn.Module):
    """Learned attention pooling: softmax over valid positions of a scalar score
    ``w . tanh(W x)``; returns the weighted sum (B, T, H) -> (B, H).

    The weights of padded positions are exactly zero (score -inf before softmax).
    """

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or max(dim // 2, 8)
        self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False))
        self.out_dim = dim

    def weights(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Attention weights (B, T) summing to one over each row's valid positions."""
        s = self.score(x).squeeze(-1).masked_fill(~mask, float("-inf"))
        return torch.softmax(s, dim=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bt,bth->bh", self.weights(x, mask), x)


class FirstPositionPool(nn.Module):
    """The first position's features: (B, T, H) -> (B, H); for a trunk that prepends a CLS token."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return x[:, 0]


def build_pooling(name: str, dim: int) -> nn.Module:
    """The pooling module called ``name`` over features of size ``dim``; has ``out_dim``.

    ``cls`` takes the first position: only meaningful after a trunk that
    prepends a CLS token (the Transformer with ``pooling: cls``).
    """
    pools = {
        "mean+max": MeanMaxPool,
        "mean": MeanPool,
        "max": MaxPool,
        "attention": AttentionPool,
        "cls": FirstPositionPool,
    }
    if name not in pools:
        raise ConfigError(f"unknown pooling {name!r}; choose one of {', '.join(pools)}")
    return pools[name](dim)


def pooled_lengths(lengths: torch.Tensor, kernel: int) -> torch.Tensor:
    """Valid lengths after a ceil-mode max-pool of ``kernel`` with stride ``kernel``.

    ``ceil(L / kernel)``: the last, partial window is kept (it holds real
    positions), so a sequence of any length >= 1 keeps at least one position.
    """
    return torch.div(lengths + kernel - 1, kernel, rounding_mode="floor")


def lengths_to_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """Boolean mask (B, max_len), True at positions ``< lengths[b]``."""
    return torch.arange(max_len, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)
