"""Dilated residual CNN classifier (registry name ``dilated-cnn``), in the line of Basenji and BPNet.

Trunk (:class:`DilatedCnnTrunk`): token embedding (one-hot for k=1) -> a wide
"stem" convolution (optionally max-pooled) -> residual blocks, each a dilated
width-``block_kernel`` convolution and a 1x1 convolution, pre-normalised per
position, added back to their input; then pooling over valid positions and a
head (:class:`~bioseq.models.network.SequenceNet`). Dilations that double from
block to block (1, 2, 4, ... 32 by default) grow the receptive field
exponentially with depth at a constant cost per position: 11 + 2 * 63 = 137
letters with the DNA defaults, so a motif pair 100 bp apart meets in one
feature without an RNN, and every position is computed in parallel (no
sequential LSTM steps: the CNN-LSTM's cost on long sequences).

Padding cannot leak in: padded positions are zeroed before every convolution
and after every block, the normalisation is per position (LayerNorm over
channels, no batch statistics), the stem's pool uses ceil mode with a shrunk
mask, and the pooling ignores masked positions. A sequence's logits are
therefore the same alone and in a padded batch (eval mode).

Nonlinearities are separate ``nn.ReLU`` modules used once each, as DeepLIFT
implementations (captum, tangermeme) require.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from bioseq.errors import ConfigError
from bioseq.models.conv import LetterConvNet, TokenEmbedding, pool_and_head
from bioseq.models.pooling import lengths_to_mask, pooled_lengths
from bioseq.models.registry import merge_hparams

_BASE_HPARAMS: dict[str, Any] = {
    "embedding": "auto",  # auto | onehot | learned (see bioseq.models.conv)
    "embed_dim": 32,  # size of the learned embedding (ignored for one-hot)
    "channels": 128,
    "stem_kernel": 11,
    "stem_pool": 1,  # max-pool after the stem (1: none); the masked-token head predicts this many tokens each
    "block_kernel": 3,
    "dilations": [1, 2, 4, 8, 16, 32],  # one residual block per entry
    "dropout": 0.1,  # on each block's output, before it is added back
    "pooling": "mean+max",  # mean+max | mean | max | attention
    "head_hidden": 64,  # 0 = linear head
    "head_dropout": 0.3,
    "head_norm": "none",  # none | batch | auto (bioseq.models.heads.settle_head_norm)
    "max_tokens": 1000,
}


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of each position: ``(B, C, T) -> (B, C, T)``; no batch statistics,
    so padding and batch composition cannot change a sequence's features."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class DilatedBlock(nn.Module):
    """``x + dropout(conv1x1(relu(norm(conv_dilated(relu(norm(x)))))))`` on ``(B, C, T)``, with padded
    positions (``keep (B, 1, T)``, 1.0 for a real position) zeroed before the dilated convolution and in
    the output."""

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.norm_in = ChannelNorm(channels)
        self.act_in = nn.ReLU()
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding="same")
        self.norm_mid = ChannelNorm(channels)
        self.act_mid = nn.ReLU()
        self.mix = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        h = self.conv(self.act_in(self.norm_in(x)) * keep)
        h = self.mix(self.act_mid(self.norm_mid(h)))
        return (x + self.drop(h)) * keep


class DilatedCnnTrunk(nn.Module):
    """Embedding -> stem convolution (+ ReLU, max-pool) -> dilated residual blocks -> final norm + ReLU.

    ``forward(ids (B, T), mask (B, T)) -> (h (B, T', C), mask (B, T'))`` with
    ``T' = ceil(T / stem_pool)`` and ``C = out_dim = channels``.
    """

    prefix_positions = 0

    def __init__(self, vocab_size: int, hp: dict) -> None:
        super().__init__()
        channels = int(hp["channels"])
        self.embed = TokenEmbedding(vocab_size, hp["embedding"], int(hp["embed_dim"]))
        self.stem = nn.Conv1d(self.embed.dim, channels, int(hp["stem_kernel"]), padding="same")
        self.stem_act = nn.ReLU()
        self.stem_pool = int(hp["stem_pool"])
        self.pool = nn.MaxPool1d(self.stem_pool, self.stem_pool, ceil_mode=True) if self.stem_pool > 1 else None
        # Input tokens per output position (bioseq.models.encoder's masked-token head).
        self.position_stride = self.stem_pool
        self.blocks = nn.ModuleList(
            DilatedBlock(channels, int(hp["block_kernel"]), int(d), float(hp["dropout"])) for d in hp["dilations"]
        )
        self.norm_out = ChannelNorm(channels)
        self.act_out = nn.ReLU()
        self.out_dim = channels

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_embedded(self.embed(ids), mask)

    def forward_embedded(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The trunk after its token embedding: ``x (B, T, E)`` (e.g. a differentiable
        one-hot, :mod:`bioseq.models.onehot`) -> ``(h, mask)`` as :meth:`forward`."""
        lengths = mask.sum(dim=1)
        if bool((lengths < 1).any()):
            raise ConfigError("every sequence in a batch needs at least one token (an all-padding row)")
        keep = mask.unsqueeze(1).to(x.dtype)
        x = self.stem_act(self.stem(x.transpose(1, 2) * keep)) * keep  # (B, C, T); ReLU >= 0 = padding
        if self.pool is not None:
            x = self.pool(x)  # a partial window's max is its real positions' max (padding is 0 <= ReLU)
            lengths = pooled_lengths(lengths, self.stem_pool)
            mask = lengths_to_mask(lengths, x.shape[-1])
            keep = mask.unsqueeze(1).to(x.dtype)
        for block in self.blocks:
            x = block(x, keep)
        return self.act_out(self.norm_out(x)).transpose(1, 2) * keep.transpose(1, 2), mask


def _check_hparams(hp: dict) -> None:
    positive = ("channels", "stem_kernel", "stem_pool", "block_kernel")
    bad = [k for k in positive if int(hp[k]) != hp[k] or int(hp[k]) < 1]
    if bad:
        raise ConfigError(f"{', '.join(bad)} must be whole numbers >= 1, got {', '.join(str(hp[k]) for k in bad)}")
    dilations = hp["dilations"]
    if not isinstance(dilations, list) or any(int(d) != d or int(d) < 1 for d in dilations):
        raise ConfigError(f"dilations must be a list of whole numbers >= 1 (one block each), got {dilations!r}")
    if not 0.0 <= float(hp["dropout"]) < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {hp['dropout']!r}")
    if hp["pooling"] == "cls":  # its first position is the first letter, not a summary token
        raise ConfigError("pooling 'cls' needs a CLS position, which this trunk has not; choose mean+max, "
                          "mean, max or attention")


class DilatedCnnClassifier(LetterConvNet):
    """Dilated residual CNN sequence classifier (registry name ``dilated-cnn``):
    :class:`DilatedCnnTrunk` -> pooling (``mean+max`` by default) -> head.

    Build through :meth:`build`; ``forward(ids (B, T) long, mask (B, T) bool) ->
    logits (B, C)``; ``features(ids, mask) -> (B, embedding_dim)``.
    """

    name: ClassVar[str] = "dilated-cnn"
    # Peak AdamW learning rate used by `bioseq train` unless --lr is given: the CNN-LSTM's, which
    # suits a pre-normalised residual convolution stack of this size as well.
    default_lr: ClassVar[float] = 3e-3

    # default_tokenizer (k=1), adapt_hparams (head_norm auto) and build: LetterConvNet's.
    @staticmethod
    def default_hparams(alphabet: str) -> dict:
        """Defaults for ``dna``/``rna`` (~60-1000 bp) or ``protein`` (~10-1000 aa).

        Proteins take a width-9 stem pooled by 3 (the CNN-LSTM's protein choice: a
        430 aa protein becomes 144 positions, a third of the cost) and
        ``head_norm: auto`` (batch-normalised pooled features for long proteins,
        see :func:`~bioseq.models.heads.settle_head_norm`).
        """
        hp = {k: (list(v) if isinstance(v, list) else v) for k, v in _BASE_HPARAMS.items()}
        if alphabet.lower() == "protein":
            hp.update(stem_kernel=9, stem_pool=3, head_norm="auto")
        return hp

    def __init__(self, vocab_size: int, n_classes: int, hparams: dict) -> None:
        hp = merge_hparams(self.name, _BASE_HPARAMS, hparams)
        _check_hparams(hp)
        trunk = DilatedCnnTrunk(vocab_size, hp)
        super().__init__(trunk, *pool_and_head(trunk.out_dim, n_classes, hp))
