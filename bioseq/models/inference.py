"""The one inference path: token arrays in, logits (or pooled features) out.

:func:`run_net` is the only place a torch net is run for inference; predict,
embed, evaluation during training and interpretation all go through it (via
:func:`score_sequences` when they start from sequences). It

* sorts the inputs by length so batches carry little padding and returns rows
  in input order;
* runs under ``torch.inference_mode()`` in eval mode and restores the net's
  previous train/eval mode afterwards (tangermeme's discipline);
* takes the batch size, device and autocast dtype explicitly.

:func:`score_sequences` adds what turns sequences into token arrays and back:
the letter check (kmer-linear), the long-input policy (windows averaged,
centre or start), and both strands averaged on request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bioseq.alphabets import get_alphabet
from bioseq.data.batching import collate, padded_to_list
from bioseq.data.windows import count_pieces, iter_piece_groups
from bioseq.device import autocast
from bioseq.errors import AlphabetError, ConfigError
from bioseq.tasks import probabilities

OUTPUTS = ("logits", "features")
# Windows made, encoded and scored at a time (a few MB of letters and tokens).
PIECES_PER_STEP = 4096
Progress = Callable[[int, int], None]


def run_net(
    net: Any,
    tokens: Sequence[np.ndarray],
    *,
    batch_size: int,
    device: Any,
    output: str = "logits",
    dtype: Any = "auto",
) -> np.ndarray:
    """Run ``net`` over unpadded token arrays.

    Args:
        net: a :class:`~bioseq.models.network.SequenceNet` (anything with
            ``forward(ids, mask)`` and ``features(ids, mask)``).
        tokens: ``n`` int arrays, each ``(T_i,)`` with ``T_i >= 1``.
        batch_size: sequences per forward pass.
        device: a ``torch.device`` (the net must already be on it).
        output: ``"logits"`` -> ``(n, C)``; ``"features"`` -> ``(n, embedding_dim)``.
        dtype: autocast dtype; ``"auto"`` is bf16 on CUDA and float32 on CPU
            (bf16 on CPUs without native support is several times slower);
            None: no autocast.

    Returns:
        float32 ``(n, C)`` or ``(n, embedding_dim)``, rows in input order.
    """
    if output not in OUTPUTS:
        raise ConfigError(f"unknown output {output!r}; choose one of {', '.join(OUTPUTS)}")
    width = net.n_classes if output == "logits" else net.embedding_dim
    out = np.zeros((len(tokens), width), np.float32)
    step = net if output == "logits" else net.features

    def keep(idx: np.ndarray, values: Any) -> None:
        out[idx] = values.float().cpu().numpy()

    _for_each_batch(net, tokens, batch_size, device, dtype, step, keep)
    return out


def _for_each_batch(
    net: Any,
    tokens: Sequence[np.ndarray],
    batch_size: int,
    device: Any,
    dtype: Any,
    step: Callable[[Any, Any], Any],
    keep: Callable[[np.ndarray, Any], None],
) -> None:
    """Call ``keep(indices, step(ids, mask))`` for length-sorted batches of ``tokens``.

    The one place nets run for inference: eval mode and ``torch.inference_mode()``
    around every batch, the net's previous train/eval mode restored afterwards
    (also after an error), ``indices`` (int64 ``(b,)``) saying which inputs a
    batch holds so callers put results back in input order.
    """
    import torch

    n = len(tokens)
    order = np.argsort(np.fromiter((len(t) for t in tokens), np.int64, n), kind="stable")
    was_training = net.training
    net.eval()
    try:
        with torch.inference_mode(), _autocast(device, dtype):
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                ids, mask = collate([tokens[i] for i in idx])
                keep(idx, step(ids.to(device), mask.to(device)))
    finally:
        net.train(was_training)


def _autocast(device: Any, dtype: Any) -> Any:
    import contextlib

    import torch

    if dtype == "auto":
        return autocast(device)
    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def encode_pieces(model: Any, seqs: Sequence[str], ids: Sequence[str] | None) -> tuple[list[np.ndarray], np.ndarray]:
    """Token arrays of every piece the long-input policy cuts ``seqs`` into, all at once
    (the trainer's validation set; prediction streams them: :func:`score_sequences`).

    Returns:
        ``(tokens, owner)``: one unpadded token array per piece, and int64
        ``(n_pieces,)`` the index of the sequence each piece belongs to.
    """
    max_len, policy, overlap = _policy(model)
    tokens: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for pieces, owner in iter_piece_groups(seqs, max_len, policy, overlap, limit=PIECES_PER_STEP):
        tokens += _encode(model, pieces, owner, ids)
        owners.append(owner)
    return tokens, (np.concatenate(owners) if owners else np.zeros(0, np.int64))


def _policy(model: Any) -> tuple[int | None, str, int]:
    """``(max_bases or None, policy, overlap)`` of the model's long-input policy."""
    policy = model.long_input
    if policy.get("policy", "none") == "none":
        return None, "none", 0
    return int(policy["max_bases"]), policy["policy"], int(policy.get("overlap", 0))


def _encode(model: Any, pieces: list[str], owner: np.ndarray, ids: Sequence[str] | None) -> list[np.ndarray]:
    piece_ids = None if ids is None else [ids[i] for i in owner]
    mat, lengths = model.tokenizer.encode_batch(pieces, ids=piece_ids)
    return padded_to_list(mat, lengths)


def check_letters(alphabet: str, seqs: Sequence[str], ids: Sequence[str] | None) -> None:
    """Refuse letters outside ``alphabet`` (kmer-linear would silently count them as unknown)."""
    alpha = get_alphabet(alphabet)
    allowed = set(alpha.letters) | set(alpha.ambiguous)
    delete = "".join(sorted(allowed)).encode()
    if not "".join(seqs).encode("utf-8", "replace").translate(None, delete):
        return  # all letters allowed: one C-level pass, no per-record work
    for i, s in enumerate(seqs):
        bad = set(s) - allowed
        if bad:
            raise AlphabetError(
                f"letters {''.join(sorted(bad))!r} are not in the model's alphabet {alpha.name!r}",
                record=ids[i] if ids is not None else None,
            )


def score_sequences(
    model: Any,
    seqs: Sequence[str],
    *,
    output: str,
    batch_size: int = 256,
    both_strands: bool = False,
    ids: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Probabilities or pooled features of sequences held in memory.

    Args:
        model: a :class:`~bioseq.models.classifier.Classifier`.
        seqs: upper-case sequences in the model's alphabet.
        output: ``"probs"`` -> float32 ``(n, C)``; ``"features"`` -> ``(n, embedding_dim)``.
        batch_size: sequences (windows) per forward pass.
        both_strands: average with the reverse complement (DNA/RNA only); always
            on for a model whose ``strands`` is ``"both"``.
        ids: record ids, only to name a record in error messages.
        progress: called as ``progress(pieces done, pieces in all)`` after each step
            (per strand), so a caller can show progress through a long record.

    Long inputs are cut by the model's long-input policy; the probabilities
    (features) of a sequence's windows are averaged. Windows are made, encoded
    and scored :data:`PIECES_PER_STEP` at a time, so memory is bounded by that
    step and the record itself, not by the number of windows.
    """
    seqs = list(seqs)
    width = model.n_classes if output == "probs" else model.embedding_dim
    if not seqs:
        return np.zeros((0, width), np.float32)
    strands = [seqs]
    if both_strands or getattr(model, "strands", "given") == "both":
        alpha = get_alphabet(model.alphabet)
        if not alpha.has_complement:
            raise ConfigError(f"both_strands needs a nucleic-acid model; this one reads {alpha.name}")
        strands.append([alpha.reverse_complement(s) for s in seqs])
    total = np.zeros((len(seqs), width), np.float64)
    for strand in strands:
        total += _score_one_strand(model, strand, output, batch_size, ids, progress)
    return (total / len(strands)).astype(np.float32)


def _score_one_strand(
    model: Any, seqs: list[str], output: str, batch_size: int, ids: Any, progress: Progress | None
) -> np.ndarray:
    """Mean over each sequence's pieces, computed :data:`PIECES_PER_STEP` pieces at a time."""
    if model.kind != "torch":
        check_letters(model.alphabet, seqs, ids)
        out = model.net.predict_proba(seqs) if output == "probs" else model.net.features(seqs)
        return np.asarray(out, np.float64)
    max_len, policy, overlap = _policy(model)
    total = count_pieces(seqs, max_len, policy, overlap)
    sums = np.zeros((len(seqs), model.n_classes if output == "probs" else model.embedding_dim), np.float64)
    counts = np.zeros(len(seqs), np.int64)
    done = 0
    for pieces, owner in iter_piece_groups(seqs, max_len, policy, overlap, limit=PIECES_PER_STEP):
        values = piece_outputs(model, _encode(model, pieces, owner, ids), output, batch_size)
        for j in range(values.shape[1]):
            sums[:, j] += np.bincount(owner, weights=values[:, j], minlength=len(seqs))
        counts += np.bincount(owner, minlength=len(seqs))
        done += len(pieces)
        if progress is not None:
            progress(done, total)
    return sums / counts[:, None]


def piece_outputs(model: Any, tokens: Sequence[np.ndarray], output: str, batch_size: int) -> np.ndarray:
    """Per-piece probabilities float32 ``(n, C)`` (``output="probs"``) or features ``(n, D)``."""
    if output == "probs":
        logits = run_net(model.net, tokens, batch_size=batch_size, device=model.device, output="logits")
        return probabilities(logits, model.task)
    return run_net(model.net, tokens, batch_size=batch_size, device=model.device, output="features")


def position_features(
    model: Any, seqs: Sequence[str], batch_size: int = 64, ids: Sequence[str] | None = None
) -> list[np.ndarray]:
    """Per-position features of short inputs: one float32 ``(T_i, H)`` array per sequence.

    The trunk's output before pooling, without prefix (CLS) positions: tokens
    for the Transformer, pooled convolution steps for the CNN-LSTM
    (``ceil(L / prod(pool_sizes))``). Inputs longer than ``max_tokens`` are
    refused rather than windowed: windows would not join into one track.
    """
    if model.kind != "torch" or not hasattr(model.net, "positions"):
        raise ConfigError(f"per-position embeddings need a neural trunk; {model.arch!r} has none")
    seqs = list(seqs)
    tokens = [model.tokenizer.encode(s, record_id=None if ids is None else ids[i]) for i, s in enumerate(seqs)]
    limit = model.hparams.get("max_tokens")
    for i, t in enumerate(tokens):
        if limit and len(t) > int(limit):
            raise ConfigError(
                f"per-position embeddings are for short inputs: {len(t)} tokens > max_tokens={limit}",
                record=None if ids is None else ids[i],
            )
    out: list[np.ndarray] = [None] * len(tokens)  # type: ignore[list-item]

    def keep(idx: np.ndarray, result: Any) -> None:
        h, m = result[0].float().cpu().numpy(), result[1].cpu().numpy()
        for row, i in enumerate(idx):
            out[i] = h[row][m[row]].astype(np.float32)

    _for_each_batch(model.net, tokens, batch_size, model.device, None, model.net.positions, keep)
    return out
