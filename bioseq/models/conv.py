"""What the convolutional nets over single letters (cnn-lstm, dilated-cnn) share.

* :class:`TokenEmbedding`: a convolution over k=1 tokens wants each letter as a
  fixed one-hot vector, as DanQ and Selene feed it; larger k-mer vocabularies
  need a learned table.
* :class:`LetterConvNet`: their registry API (k=1 tokens, ``head_norm: auto``
  settled from the training lengths, ``build``) and their pooling + head
  (:func:`pool_and_head`), so each architecture only defines its trunk and defaults.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from bioseq.errors import ConfigError
from bioseq.models.heads import ClassificationHead, settle_head_norm
from bioseq.models.network import SequenceNet
from bioseq.models.pooling import build_pooling
from bioseq.tokenize import N_SPECIAL

ONEHOT_MAX_VOCAB = 64  # "auto" picks one-hot up to this many k-mer ids (k=1 DNA/RNA/protein)


class TokenEmbedding(nn.Module):
    """Token ids (B, T) -> vectors (B, T, E); PAD (id 0) always maps to zeros.

    ``onehot``: a fixed (non-trainable) matrix; k-mer id ``4 + i`` -> unit vector
    ``e_i``; UNK -> the uniform vector ``1/n`` (Selene's 0.25 for ``N``); PAD,
    CLS and MASK -> zeros. ``learned``: ``nn.Embedding`` with ``padding_idx=0``.
    """

    def __init__(self, vocab_size: int, mode: str, embed_dim: int) -> None:
        super().__init__()
        n_kmers = vocab_size - N_SPECIAL
        if n_kmers < 1:
            raise ConfigError(f"vocab_size {vocab_size} holds no k-mer ids (needs > {N_SPECIAL})")
        if mode == "auto":
            mode = "onehot" if n_kmers <= ONEHOT_MAX_VOCAB else "learned"
        self.mode = mode
        if mode == "onehot":
            table = torch.zeros(vocab_size, n_kmers)
            table[N_SPECIAL:] = torch.eye(n_kmers)
            table[1] = 1.0 / n_kmers
            self.register_buffer("table", table, persistent=False)
            self.dim = n_kmers
        elif mode == "learned":
            self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
            self.dim = embed_dim
        else:
            raise ConfigError(f"unknown embedding {mode!r}; choose auto, onehot or learned")

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self.mode == "onehot":
            return F.embedding(ids, self.table)
        return self.embed(ids)


def pool_and_head(trunk_dim: int, n_classes: int, hp: dict) -> tuple[nn.Module, ClassificationHead]:
    """The pooling (``hp["pooling"]``) over ``trunk_dim`` features and the head (``head_hidden``,
    ``head_dropout``, ``head_norm``; an unsettled ``auto`` builds without the norm, as a net built
    without training data does)."""
    pool = build_pooling(hp["pooling"], trunk_dim)
    head = ClassificationHead(
        pool.out_dim, n_classes, int(hp["head_hidden"]), float(hp["head_dropout"]),
        "none" if hp["head_norm"] == "auto" else str(hp["head_norm"]),
    )
    return pool, head


class LetterConvNet(SequenceNet):
    """Registry API shared by the convolutional nets over single letters; a subclass gives
    ``name``, ``default_lr``, ``default_hparams`` and ``__init__(vocab_size, n_classes, hparams)``."""

    kind: ClassVar[str] = "torch"

    @staticmethod
    def default_tokenizer(alphabet: str) -> dict:
        """k=1 (one letter per token): the convolutions learn the motifs themselves."""
        return {"k": 1, "stride": 1, "canonical": False}

    @staticmethod
    def adapt_hparams(hp: dict, median_length: float) -> dict:
        """Settle data-dependent choices from the training data's median sequence length
        (called by ``bioseq.train`` before building): ``head_norm: auto``
        (:func:`~bioseq.models.heads.settle_head_norm`)."""
        return settle_head_norm(hp, median_length)

    @classmethod
    def build(cls, vocab_size: int, n_classes: int, hparams: dict | None = None, tokenizer: Any = None) -> Any:
        """A new untrained net; ``hparams`` may be partial (missing keys take the DNA
        defaults) but unknown keys raise :class:`ConfigError`. ``tokenizer`` is unused."""
        return cls(vocab_size, n_classes, hparams or {})
