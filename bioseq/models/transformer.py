"""A small pre-norm Transformer encoder classifier (DNABERT-like, trained from scratch).

Trunk (:class:`TransformerTrunk`): token embedding -> optional convolutional stem
(:class:`ConvStem`) -> absolute positions added (learned, sinusoidal or none) -> N pre-norm
blocks, each optionally rotary (queries and keys turned by position):
``x + MHA(LN(x))``, ``x + MLP(LN(x))`` (GELU) -> final LayerNorm -> pooling (masked
mean by default, or a prepended learned CLS vector) -> head.

New models add rotary positions to the learned ones; the stem stays off. Why: on a
motif-grammar task (``bench/grammar.py``: the class depends on the order and spacing
of two motifs in 200 bp; 3 minutes, 2 threads, one seed) learned absolute positions
alone reached test accuracy 0.626-0.630 against 0.999-1.000 for the CNN-LSTM; with rotary
positions 0.992 (also without absolute ones); a width-9 stem alone 0.701, stem and
rotary 0.998-0.999. Attention with absolute positions must learn every (position,
position) pair of a spacing separately; rotary scores depend on the offset between two
tokens only. The learned absolute positions stay because splice sites are defined by
the absolute centre of the window (splice_uci, seeds 0-1: rotary and learned 0.913 /
0.920; rotary alone 0.778 / 0.752 with the stem); the stem is off because it cost
splice_uci 0.1 (0.798 / 0.803 with learned positions, 0.839 / 0.795 with rotary too).

Attention uses ``F.scaled_dot_product_attention`` with a boolean key-padding mask
broadcast to (B, 1, 1, T): real tokens never attend to padding, and padded rows
(which attend to the real keys, so never produce NaN) are ignored by the pooling.
A sequence's logits are therefore the same alone and in a padded batch.

DNA defaults use overlapping 4-mers with stride 2: half as many tokens as bases
(the speed lever on CPUs) and a vocabulary of 256, small enough to learn from a
few thousand sequences without pre-training. Measured on splice_uci (one seed,
2.5 min): 6-mers/stride 3 (4,096 k-mers, DNABERT-style) reached test accuracy
0.74, 4-mers/stride 2 0.90, 3-mers/stride 1 0.91 at twice the tokens. Protein
defaults use single residues.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from bioseq.errors import ConfigError
from bioseq.models.heads import ClassificationHead
from bioseq.models.network import SequenceNet
from bioseq.models.pooling import build_pooling
from bioseq.models.registry import merge_hparams

_BASE_HPARAMS: dict[str, Any] = {
    # 64 trains ~2x faster than 128 on CPU and scored as well or better from
    # scratch on small sets (test accuracy, one seed, 2.5 min: enhancers 0.745
    # vs 0.713, splice 0.907 vs 0.904).
    "d_model": 64,
    "n_layers": 2,
    "n_heads": 4,
    "mlp_ratio": 2.0,
    "dropout": 0.1,
    "attn_dropout": 0.0,
    "positional": "learned",  # absolute positions added to the embeddings: learned | sinusoidal | none
    "rotary": False,  # relative positions: queries and keys turned by position in every block
    "conv_stem": 0,  # width of a residual convolution over the token embeddings; 0: none
    "pooling": "mean",  # mean | cls
    "head_hidden": 0,
    "head_dropout": 0.1,
    "max_tokens": 512,
}


def sinusoidal_table(n_positions: int, dim: int) -> torch.Tensor:
    """The fixed (n_positions, dim) sine/cosine table of Vaswani et al. (2017)."""
    pos = torch.arange(n_positions, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n_positions, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return table


def rotary_tables(n_positions: int, head_dim: int) -> torch.Tensor:
    """Rotary position tables (Su et al. 2021, RoFormer): ``(2, n_positions, head_dim / 2)``,
    cosines then sines of ``position * 10000^(-2i / head_dim)``."""
    if head_dim % 2:
        raise ConfigError(f"rotary positions need an even head size (d_model / n_heads), got {head_dim}")
    freq = torch.exp(torch.arange(0, head_dim, 2, dtype=torch.float32) * (-math.log(10000.0) / head_dim))
    angles = torch.arange(n_positions, dtype=torch.float32)[:, None] * freq
    return torch.stack([angles.cos(), angles.sin()])


def rotate(x: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
    """Queries or keys ``(B, h, T, dh)`` rotated by position: pairs ``(x_i, x_{i + dh/2})`` turn
    by the angle of their position and frequency, so that ``q_m . k_n`` depends on ``m - n``
    only (a relative position, whatever the absolute offset of two motifs)."""
    t, half = x.shape[2], x.shape[3] // 2
    cos, sin = tables[0, :t], tables[1, :t]  # (T, dh/2): broadcast over B and h
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class ConvStem(nn.Module):
    """``x + GELU(conv(x))`` over the token embeddings ``(B, T, d) -> (B, T, d)``, width ``kernel``
    ('same' padding), padding positions zeroed before the convolution so that a sequence's
    output is the same alone and in a padded batch. Why: it gives every token its local
    context (a motif spans several k-mer tokens) before attention relates positions, as the
    convolutional stems of conv-Transformers (Enformer, gReLU) do."""

    def __init__(self, d_model: int, kernel: int) -> None:
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ConfigError(f"conv_stem must be 0 (none) or an odd width, got {kernel}")
        self.conv = nn.Conv1d(d_model, d_model, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x * mask[..., None]
        return x + F.gelu(self.conv(x.transpose(1, 2))).transpose(1, 2) * mask[..., None]


class EncoderBlock(nn.Module):
    """Pre-norm Transformer block: (B, T, d) -> (B, T, d) with key-padding mask (B, T)."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: float, dropout: float, attn_dropout: float):
        super().__init__()
        if d_model % n_heads:
            raise ConfigError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads = n_heads
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        hidden = int(round(d_model * mlp_ratio))
        self.mlp = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, d_model))
        self.drop = nn.Dropout(dropout)
        self.attn_dropout = attn_dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor, rotary: torch.Tensor | None = None) -> torch.Tensor:
        """``rotary``: :func:`rotary_tables` to rotate queries and keys by position; None: the
        positions were added to the embeddings."""
        b, t, d = x.shape
        qkv = self.qkv(self.norm1(x)).view(b, t, 3, self.n_heads, d // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, h, T, d/h)
        if rotary is not None:
            q, k = rotate(q, rotary), rotate(k, rotary)
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask[:, None, None, :],
            dropout_p=self.attn_dropout if self.training else 0.0,
        )  # (B, h, T, d/h)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.mlp(self.norm2(x)))


class TransformerTrunk(nn.Module):
    """Token + positional embedding -> pre-norm blocks -> LayerNorm.

    ``forward(ids (B, T), mask (B, T)) -> (h (B, T + prefix, d), mask (B, T + prefix))``;
    with ``cls`` pooling a learned CLS vector is prepended (``prefix_positions == 1``).
    """

    def __init__(self, vocab_size: int, hp: dict) -> None:
        super().__init__()
        d = int(hp["d_model"])
        self.max_tokens = int(hp["max_tokens"])
        self.prefix_positions = int(hp["pooling"] == "cls")
        self.position_stride = 1  # one output position per token (after the prefix)
        n_pos = self.max_tokens + self.prefix_positions
        self.embed = nn.Embedding(vocab_size, d, padding_idx=0)
        self.stem = ConvStem(d, int(hp["conv_stem"])) if int(hp["conv_stem"]) else None
        if hp["positional"] == "learned":
            self.pos = nn.Parameter(torch.randn(n_pos, d) * 0.02)
        else:
            table = sinusoidal_table(n_pos, d) if hp["positional"] == "sinusoidal" else None
            self.register_buffer("pos", table, persistent=False)
        rotary = rotary_tables(n_pos, d // int(hp["n_heads"])) if hp["rotary"] else None
        self.register_buffer("rotary", rotary, persistent=False)
        self.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.02) if self.prefix_positions else None
        self.emb_drop = nn.Dropout(float(hp["dropout"]))
        self.blocks = nn.ModuleList(
            EncoderBlock(d, int(hp["n_heads"]), float(hp["mlp_ratio"]), float(hp["dropout"]),
                         float(hp["attn_dropout"]))
            for _ in range(int(hp["n_layers"]))
        )
        self.norm = nn.LayerNorm(d)
        self.out_dim = d

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_embedded(self.embed(ids), mask)

    def forward_embedded(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The trunk after its token embedding: ``x (B, T, d)`` (e.g. a differentiable
        k-mer embedding, :mod:`bioseq.models.onehot`) -> ``(h, mask)`` as :meth:`forward`."""
        b, t = x.shape[:2]
        if t > self.max_tokens:
            raise ConfigError(
                f"input of {t} tokens exceeds max_tokens={self.max_tokens}; apply the long-input "
                "policy (bioseq.data.windows) or raise the max_tokens hyper-parameter"
            )
        if bool((mask.sum(dim=1) < 1).any()):
            raise ConfigError("every sequence in a batch needs at least one token (an all-padding row)")
        if self.stem is not None:
            x = self.stem(x, mask)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(b, 1, -1), x], dim=1)
            mask = torch.cat([mask.new_ones(b, 1), mask], dim=1)
        x = self.emb_drop(x if self.pos is None else x + self.pos[: x.shape[1]])
        for block in self.blocks:
            x = block(x, mask, self.rotary)
        return self.norm(x), mask


class TransformerClassifier(SequenceNet):
    """Transformer encoder sequence classifier (registry name ``transformer``):
    :class:`TransformerTrunk` -> masked mean (or CLS) pooling -> head.

    Build through :meth:`build`; ``forward(ids (B, T) long, mask (B, T) bool) ->
    logits (B, C)``; ``features(ids, mask) -> (B, d_model)``. Inputs longer than
    ``max_tokens`` raise :class:`ConfigError` (the caller applies the long-input
    policy of :mod:`bioseq.data.windows` first).
    """

    name: ClassVar[str] = "transformer"
    kind: ClassVar[str] = "torch"

    @staticmethod
    def default_tokenizer(alphabet: str) -> dict:
        """DNA/RNA: overlapping 4-mers, stride 2; protein: single residues."""
        if alphabet.lower() == "protein":
            return {"k": 1, "stride": 1, "canonical": False}
        return {"k": 4, "stride": 2, "canonical": False}

    @staticmethod
    def default_hparams(alphabet: str) -> dict:
        """DNA: 512 tokens of 4-mer/stride 2 = 1,026 bp; protein: 1,000 residues. Rotary
        positions on top of the learned absolute ones; no convolutional stem (the base
        hyper-parameters keep rotary off, so that bundles saved before it load unchanged)."""
        hp = dict(_BASE_HPARAMS, rotary=True)
        if alphabet.lower() == "protein":
            hp["max_tokens"] = 1000
        return hp

    @classmethod
    def build(
        cls, vocab_size: int, n_classes: int, hparams: dict | None = None, tokenizer: Any = None
    ) -> TransformerClassifier:
        """A new untrained net; ``hparams`` may be partial (missing keys take the DNA
        defaults) but unknown keys raise :class:`ConfigError`. ``tokenizer`` is unused."""
        return cls(vocab_size, n_classes, hparams or {})

    def __init__(self, vocab_size: int, n_classes: int, hparams: dict) -> None:
        hp = merge_hparams(self.name, _BASE_HPARAMS, hparams)
        if hp["pooling"] not in ("mean", "cls"):
            raise ConfigError(f"unknown pooling {hp['pooling']!r} for transformer; choose mean or cls")
        if hp["positional"] not in ("learned", "sinusoidal", "none"):
            raise ConfigError(f"unknown positional {hp['positional']!r}; choose learned, sinusoidal or none")
        trunk = TransformerTrunk(vocab_size, hp)
        pool = build_pooling(hp["pooling"], trunk.out_dim)
        head = ClassificationHead(pool.out_dim, n_classes, int(hp["head_hidden"]), float(hp["head_dropout"]))
        super().__init__(trunk, pool, head)
