"""DanQ-style CNN + bidirectional RNN classifier (Quang & Xie 2016), sized for CPUs.

Trunk (:class:`CnnLstmTrunk`): token embedding (a fixed one-hot for small vocabularies such as k=1, as in
DanQ/Selene, or a learned embedding) -> [conv + ReLU + max-pool] blocks -> dropout
-> bidirectional LSTM/GRU; then pooling over valid positions and a head
(:class:`~bioseq.models.network.SequenceNet`).

Padding cannot leak in: padded positions are zeroed before every convolution
(so a "same" convolution sees exactly the zeros it would see at the end of an
unpadded sequence), the mask shrinks with each pool (ceil mode: ``ceil(L/p)``
positions stay valid), the RNN runs on packed sequences (``pack_padded_sequence``)
and the pooling ignores masked positions. A sequence's logits are therefore the
same alone and in a padded batch (eval mode).

Defaults (k=1): DNA 128 filters of width 11, pool 8, BiLSTM 64 units: 200 bp ->
25 RNN steps; protein 128 filters of width 9, pool 3, BiLSTM 64 units and, for
long proteins, a batch-normalised head input (:meth:`CnnLstmClassifier.default_hparams`
says why).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from bioseq.errors import ConfigError
from bioseq.models.conv import LetterConvNet, TokenEmbedding, pool_and_head
from bioseq.models.pooling import lengths_to_mask, pooled_lengths
from bioseq.models.registry import merge_hparams

_BASE_HPARAMS: dict[str, Any] = {
    "embedding": "auto",  # auto | onehot | learned
    "embed_dim": 32,  # size of the learned embedding (ignored for one-hot)
    "conv_filters": [128],
    # 11 bp filters: on splice_uci (60 bp) width 19 reached test accuracy 0.86,
    # width 11 0.94; on 200 bp enhancers both ~0.76 (lr 3e-3, one seed each).
    "conv_kernels": [11],
    "pool_sizes": [8],
    "conv_dropout": 0.2,
    "rnn": "lstm",  # lstm | gru
    "rnn_hidden": 64,
    "rnn_layers": 1,
    "bidirectional": True,
    "rnn_dropout": 0.3,  # dropout on the RNN outputs
    "pooling": "mean+max",  # mean+max | mean | max | attention
    "head_hidden": 64,  # 0 = linear head
    "head_dropout": 0.3,
    # "batch": standardise the pooled embedding over the batch before the head
    # (heads.PooledBatchNorm). "auto" (the protein default, see default_hparams):
    # bioseq.train stores "batch" or "none" from the training lengths (adapt_hparams);
    # a net built without training data takes "none".
    "head_norm": "none",  # none | batch | auto
    "max_tokens": 1000,
}


class CnnLstmTrunk(nn.Module):
    """Embedding -> [conv + ReLU + max-pool] blocks -> dropout -> BiLSTM/BiGRU.

    ``forward(ids (B, T), mask (B, T)) -> (h (B, T', H), mask (B, T'))`` with
    ``T' = ceil(T / prod(pool_sizes))`` and ``H = out_dim`` (RNN units, doubled
    when bidirectional).
    """

    prefix_positions = 0

    def __init__(self, vocab_size: int, hp: dict) -> None:
        super().__init__()
        filters, kernels, pools = hp["conv_filters"], hp["conv_kernels"], hp["pool_sizes"]
        self.embed = TokenEmbedding(vocab_size, hp["embedding"], int(hp["embed_dim"]))
        convs = []
        in_ch = self.embed.dim
        for out_ch, kernel in zip(filters, kernels, strict=True):
            convs.append(nn.Conv1d(in_ch, int(out_ch), int(kernel), padding="same"))
            in_ch = int(out_ch)
        self.convs = nn.ModuleList(convs)
        self.pools = [int(p) for p in pools]
        # Input tokens per output position (T' = ceil(T / position_stride)): the masked-token
        # head of pretraining (bioseq.models.encoder) predicts that many tokens per position.
        self.position_stride = int(np.prod(self.pools)) if self.pools else 1
        # Modules rather than F.relu/F.max_pool1d (no weights, so no change to the bundle):
        # DeepLIFT implementations (tangermeme, captum) apply their rules to modules only.
        self.act = nn.ReLU()
        self.pool_layers = nn.ModuleList(nn.MaxPool1d(p, p, ceil_mode=True) for p in self.pools)
        self.conv_dropout = nn.Dropout(float(hp["conv_dropout"]))
        rnn_cls = nn.LSTM if hp["rnn"] == "lstm" else nn.GRU
        self.rnn = rnn_cls(
            in_ch, int(hp["rnn_hidden"]), num_layers=int(hp["rnn_layers"]),
            batch_first=True, bidirectional=bool(hp["bidirectional"]),
        )
        self.out_dim = int(hp["rnn_hidden"]) * (2 if hp["bidirectional"] else 1)
        self.rnn_dropout = nn.Dropout(float(hp["rnn_dropout"]))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_embedded(self.embed(ids), mask)

    def forward_embedded(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The trunk after its token embedding: ``x (B, T, E)`` (e.g. a differentiable
        one-hot, :mod:`bioseq.models.onehot`) -> ``(h, mask)`` as :meth:`forward`."""
        lengths = mask.sum(dim=1)
        if bool((lengths < 1).any()):
            raise ConfigError("every sequence in a batch needs at least one token (an all-padding row)")
        x = x.transpose(1, 2)  # (B, E, T)
        for conv, p, pool in zip(self.convs, self.pools, self.pool_layers, strict=True):
            x = x * mask.unsqueeze(1).to(x.dtype)  # zero padding before the conv sees it
            x = self.act(conv(x))
            if p > 1:
                # Padded positions hold 0 <= every ReLU output, so a partial window's
                # max equals the max over its real positions.
                x = x * mask.unsqueeze(1).to(x.dtype)
                x = pool(x)
                lengths = pooled_lengths(lengths, p)
                mask = lengths_to_mask(lengths, x.shape[-1])
        x = self.conv_dropout(x.transpose(1, 2))  # (B, T', C)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return self.rnn_dropout(out), mask


def _check_hparams(hp: dict) -> None:
    filters, kernels, pools = hp["conv_filters"], hp["conv_kernels"], hp["pool_sizes"]
    if not (len(filters) == len(kernels) == len(pools)):
        raise ConfigError(
            "conv_filters, conv_kernels and pool_sizes must have the same length, got "
            f"{len(filters)}, {len(kernels)}, {len(pools)}"
        )
    if hp["rnn"] not in ("lstm", "gru"):
        raise ConfigError(f"unknown rnn {hp['rnn']!r}; choose lstm or gru")
    if int(hp["rnn_layers"]) < 1 or int(hp["rnn_hidden"]) < 1:
        raise ConfigError("rnn_layers and rnn_hidden must be >= 1")
    if any(int(p) < 1 for p in pools) or any(int(k) < 1 for k in kernels):
        raise ConfigError("conv_kernels and pool_sizes must be >= 1")


class CnnLstmClassifier(LetterConvNet):
    """CNN + BiLSTM/BiGRU sequence classifier (registry name ``cnn-lstm``):
    :class:`CnnLstmTrunk` -> pooling (``mean+max`` by default) -> head.

    Build through :meth:`build`; ``forward(ids (B, T) long, mask (B, T) bool) ->
    logits (B, C)``; ``features(ids, mask) -> (B, embedding_dim)``.
    """

    name: ClassVar[str] = "cnn-lstm"
    # Peak AdamW learning rate used by `bioseq train` unless --lr is given
    # (splice_uci validation MCC 0.64 at 3e-3 vs 0.49 at 1e-3 after 8 epochs).
    default_lr: ClassVar[float] = 3e-3

    # ------------------------------------------------------------------ registry API
    # default_tokenizer (k=1), adapt_hparams (head_norm auto) and build: LetterConvNet's.
    @staticmethod
    def default_hparams(alphabet: str) -> dict:
        """Defaults for ``dna``/``rna`` (~200-1000 bp) or ``protein`` (~50-1000 aa).

        Long proteins standardise the pooled embedding over the batch
        (``head_norm: auto`` -> ``batch``, see :meth:`adapt_hparams`). Without
        it the net learned nothing for ~100 steps on deeploc (loss flat at
        ln 10, one predicted class; the pooled features of 430 aa proteins
        differ between proteins by ~1/9 of their common mean), and a 3-minute
        run ended there: test accuracy 0.02, every protein called the same
        (rare) class. With it the loss falls from the first steps.
        """
        hp = {k: (list(v) if isinstance(v, list) else v) for k, v in _BASE_HPARAMS.items()}
        if alphabet.lower() == "protein":
            hp.update(conv_kernels=[9], pool_sizes=[3], head_norm="auto")
        return hp

    def __init__(self, vocab_size: int, n_classes: int, hparams: dict) -> None:
        hp = merge_hparams(self.name, _BASE_HPARAMS, hparams)
        _check_hparams(hp)
        trunk = CnnLstmTrunk(vocab_size, hp)
        super().__init__(trunk, *pool_and_head(trunk.out_dim, n_classes, hp))
