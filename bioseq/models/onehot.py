"""A differentiable input for gradient attributions: one-hot bases in, logits out.

The nets read integer token ids, which have no gradient. :class:`OneHotInput`
wraps a trained :class:`~bioseq.models.network.SequenceNet` so that it reads
one-hot bases ``x (B, A, L)`` (tangermeme's and captum's layout: alphabet on
axis 1) and returns the same logits ``(B, C)`` as the net on the tokens of those
bases:

* k-mer token ``j`` covers bases ``j*stride ... j*stride + k - 1``; its one-hot
  over all ``A**k`` k-mers is the outer product of those ``k`` base one-hots
  (for a one-hot input exactly one entry is 1, the k-mer's);
* that ``(B, T, A**k)`` matrix times the trunk's embedding of every k-mer
  (``trunk.embed`` of each k-mer's token id, so canonical k-mers and the fixed
  one-hot table of the CNN-LSTM need no special case) is the token embedding;
* the trunk continues from there (``trunk.forward_embedded``), then pooling and head.

For ``k = 1`` the product is the input itself and the embedding of the CNN-LSTM
is the identity: the wrapper is the net with the one-hot table lifted out.
An ambiguous base (``N``) is the uniform row ``1/A``: for ``k = 1`` that is
exactly the net's UNK vector; for ``k > 1`` it is the mean embedding of the
k-mers it could be (the net itself maps such a k-mer to UNK), so gradients
there are approximate; in-silico mutagenesis never uses this path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from bioseq.errors import ConfigError

MAX_KMERS = 65536  # A**k above this: the (B, T, A**k) k-mer one-hot would not fit


def encode_onehot(seq: str, letters: str) -> np.ndarray:
    """float32 ``(L, A)``: 1 at each base's letter; letters outside ``letters`` (ambiguity codes)
    get the uniform row ``1/A``."""
    lut = np.full(256, -1, np.int64)
    for i, ch in enumerate(letters):
        lut[ord(ch)] = i
        lut[ord(ch.lower())] = i
    codes = lut[np.frombuffer(seq.encode("ascii", "replace"), np.uint8)]
    out = np.zeros((len(seq), len(letters)), np.float32)
    known = codes >= 0
    out[np.flatnonzero(known), codes[known]] = 1.0
    out[~known] = 1.0 / len(letters)
    return out


class OneHotInput(nn.Module):
    """``forward(x (B, A, L) float) -> logits (B, C)`` of ``net`` on the bases ``x`` encodes.

    Every row of a batch has the same length ``L`` (no padding: callers batch
    records by length). The wrapped net is shared, not copied; put it in eval mode.
    """

    def __init__(self, net: nn.Module, tokenizer: Any) -> None:
        super().__init__()
        trunk = getattr(net, "trunk", None)
        if trunk is None or not hasattr(trunk, "forward_embedded") or not hasattr(trunk, "embed"):
            raise ConfigError("gradient attributions need a trunk with embed and forward_embedded")
        self.net = net
        self.k = int(tokenizer.k)
        self.stride = int(tokenizer.stride)
        letters = tokenizer.alphabet.letters
        n = len(letters) ** self.k
        if n > MAX_KMERS:
            raise ConfigError(f"{len(letters)}**{self.k} k-mers are too many for gradient attributions; use ism")
        kmers = [""]
        for _ in range(self.k):  # lexicographic, first letter most significant: the outer-product order
            kmers = [p + ch for p in kmers for ch in letters]
        ids, _ = tokenizer.encode_batch(kmers)
        self.register_buffer("kmer_ids", torch.as_tensor(np.asarray(ids[:, 0], np.int64)), persistent=False)

    def kmer_onehot(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, A, L)`` bases -> ``(B, T, A**k)``: each token's k-mer as a product of its bases."""
        if x.shape[-1] < self.k:
            raise ConfigError(f"a sequence of {x.shape[-1]} bases holds no {self.k}-mer")
        windows = x.transpose(1, 2).unfold(1, self.k, self.stride)  # (B, T, A, k)
        v = windows[..., 0]
        for j in range(1, self.k):
            v = (v.unsqueeze(-1) * windows[..., j].unsqueeze(-2)).flatten(-2)
        return v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        trunk = self.net.trunk
        emb = self.kmer_onehot(x) @ trunk.embed(self.kmer_ids).to(x.dtype)  # (B, T, E)
        mask = torch.ones(emb.shape[:2], dtype=torch.bool, device=x.device)
        return self.net.head(self.net.pool(*trunk.forward_embedded(emb, mask)))
