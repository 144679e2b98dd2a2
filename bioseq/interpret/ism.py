"""In-silico mutagenesis (ISM): the exact effect of every single-base substitution.

For a record of length ``L`` over an alphabet of ``A`` letters, the ``(A - 1) * L``
mutants (``3 L`` for DNA; all ``A`` letters at an ambiguous position) and the
reference are scored together: the mutants of several records fill one call
of :func:`bioseq.models.inference.run_net` (length-sorted batches of
``batch_size``), so the cost is that of the forward passes and nothing else
(``bench/explain.py`` measures it against bare forward passes).

``effect[i, b] = score(target | base b at position i) - score(target | reference)``;
0 where ``b`` is the observed base. ``score`` is the target's **logit**
(``value="logit"``, the default: no saturation) or its **probability**
(``value="prob"``: then a record's row equals the difference of two
``predict`` calls, and an ensemble's is exact). An ``--arch auto`` ensemble's
matrix is the weighted sum of its members' matrices (with ``value="prob"``
that is exactly the ensemble's own effect, its probabilities being the same
weighted sum). kmer-linear is scored by its own closed form (no torch); a binary
kmer-linear model's logits are ``(0, z)`` (the first class is the reference of
its logistic regression, so its logit never moves), which ISM centres to
``(-z/2, z/2)``: the same probabilities, and an effect toward either class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bioseq.alphabets import get_alphabet
from bioseq.data.batching import padded_to_list
from bioseq.errors import ConfigError
from bioseq.models.inference import check_letters, run_net
from bioseq.tasks import probabilities
from bioseq.tokenize import UNK

VALUES = ("logit", "prob")
# Mutants scored per run_net call: a few MB of tokens, many batches per call.
MUTANTS_PER_CALL = 16384


def mutant_plan(seq: str, letters: str) -> tuple[np.ndarray, np.ndarray]:
    """``(positions, letter codes)`` of every single substitution of ``seq``, position-major."""
    base = np.frombuffer(seq.encode("ascii"), np.uint8)
    letter_bytes = np.frombuffer(letters.encode("ascii"), np.uint8)
    pos = np.repeat(np.arange(len(seq)), len(letters))
    code = np.tile(np.arange(len(letters)), len(seq))
    keep = letter_bytes[code] != base[pos]
    return pos[keep], code[keep]


def mutant_bytes(seq: str, letters: str, pos: np.ndarray, code: np.ndarray) -> np.ndarray:
    """uint8 ``(1 + m, L)``: the reference then each mutant, as letters."""
    base = np.frombuffer(seq.encode("ascii"), np.uint8)
    out = np.tile(base, (1 + len(pos), 1))
    out[np.arange(1, 1 + len(pos)), pos] = np.frombuffer(letters.encode("ascii"), np.uint8)[code]
    return out


def ism(
    model: Any,
    seqs: Sequence[str],
    targets: Sequence[int],
    *,
    batch_size: int = 256,
    value: str = "logit",
    ids: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """float32 ``(L_i, A)`` effect matrices (see the module docstring), one per sequence.

    Args:
        model: a Classifier (torch or kmer-linear) or an EnsembleClassifier.
        seqs: upper-case sequences in the model's alphabet.
        targets: the class index each record is explained toward.
        batch_size: sequences per forward pass.
        value: ``"logit"`` or ``"prob"``.
        ids: record ids, to name a record in errors.
    """
    if value not in VALUES:
        raise ConfigError(f"unknown ISM value {value!r}; choose one of {', '.join(VALUES)}")
    if getattr(model, "kind", None) == "ensemble":
        return _ensemble_ism(model, seqs, targets, batch_size=batch_size, value=value, ids=ids)
    letters = get_alphabet(model.alphabet).letters
    check_letters(model.alphabet, list(seqs), ids)
    check_lengths(model, seqs, ids)
    out: list[np.ndarray] = []
    group: list[int] = []
    size = 0
    for i, s in enumerate(seqs):
        group.append(i)
        size += 1 + (len(letters) - 1) * len(s)
        if size >= MUTANTS_PER_CALL or i == len(seqs) - 1:
            out += _ism_group(model, [seqs[j] for j in group], [targets[j] for j in group], letters, batch_size, value)
            group, size = [], 0
    return out


def _ism_group(
    model: Any, seqs: list[str], targets: list[int], letters: str, batch_size: int, value: str
) -> list[np.ndarray]:
    """Score the reference and mutants of a few records in one call; cut the rows back apart."""
    plans = [mutant_plan(s, letters) for s in seqs]
    blocks = [mutant_bytes(s, letters, p, c) for s, (p, c) in zip(seqs, plans, strict=True)]
    scores = _score(model, blocks, value, batch_size)
    out, start = [], 0
    for s, (pos, code), block, t in zip(seqs, plans, blocks, targets, strict=True):
        rows = scores[start : start + len(block), t]
        start += len(block)
        effect = np.zeros((len(s), len(letters)), np.float32)
        effect[pos, code] = rows[1:] - rows[0]
        out.append(effect)
    return out


def _score(model: Any, blocks: list[np.ndarray], value: str, batch_size: int) -> np.ndarray:
    """``(sum of rows, C)`` logits or probabilities of every row of every block, in order."""
    if model.kind != "torch":
        strings = [r.tobytes().decode("ascii") for b in blocks for r in b]
        logits = np.asarray(model.net.decision_function(strings), np.float64)
        if model.task == "binary":  # logits (0, z): centred to (-z/2, z/2), same softmax
            logits -= logits.mean(axis=1, keepdims=True)
    else:
        tokens = _tokens(model.tokenizer, blocks)
        logits = run_net(model.net, tokens, batch_size=batch_size, device=model.device)
    return probabilities(logits, model.task) if value == "prob" else np.asarray(logits, np.float32)


def _tokens(tokenizer: Any, blocks: list[np.ndarray]) -> list[np.ndarray]:
    """Token arrays of every row. k=1: the letters' ids looked up directly (no strings)."""
    if tokenizer.k == 1 and tokenizer.stride == 1:
        lut = np.full(256, UNK, np.int64)  # ambiguity codes (checked before) are unknown
        letters = tokenizer.alphabet.letters
        lut[np.frombuffer(letters.encode("ascii"), np.uint8)] = tokenizer.encode(letters).astype(np.int64)
        return [row for b in blocks for row in lut[b]]
    out: list[np.ndarray] = []
    for b in blocks:
        strings = [r.tobytes().decode("ascii") for r in b]
        mat, lengths = tokenizer.encode_batch(strings)
        out += padded_to_list(mat, lengths)
    return out


def check_lengths(model: Any, seqs: Sequence[str], ids: Sequence[str] | None) -> None:
    """Attributions are per window-free record: longer than the net's window is refused."""
    policy = getattr(model, "long_input", {}) or {}
    limit = policy.get("max_bases") if policy.get("policy", "none") != "none" else None
    for i, s in enumerate(seqs):
        if limit and len(s) > int(limit):
            raise ConfigError(
                f"explain takes records up to the model's window of {limit} bases, this one has {len(s)}; "
                "cut it into windows first", record=None if ids is None else ids[i],
            )


def _ensemble_ism(model: Any, seqs: Sequence[str], targets: Sequence[int], **kw: Any) -> list[np.ndarray]:
    total = [np.zeros((len(s), len(get_alphabet(model.alphabet).letters)), np.float64) for s in seqs]
    for member, w in zip(model.members, model.weights, strict=True):
        if not w:
            continue
        for acc, m in zip(total, ism(member, seqs, targets, **kw), strict=True):
            acc += float(w) * m
    return [t.astype(np.float32) for t in total]
