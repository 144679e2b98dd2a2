"""Token embeddings shared by the convolutional trunks (cnn-lstm, dilated-cnn).

A convolution over k=1 tokens wants each letter as a fixed one-hot vector, as
DanQ and Selene feed it; larger k-mer vocabularies need a learned table.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bioseq.errors import ConfigError
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
