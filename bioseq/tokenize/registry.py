"""Tokenizer registry and the conformance checks a tokenizer plugin must pass.

Tokenizers are found by name through the ``bioseq.tokenizers`` entry-point
group; the built-in ``kmer`` is declared in bioseq's own ``pyproject.toml``
exactly like a third-party plugin would be. A model bundle stores
``tokenizer.config()`` (JSON with a ``"name"`` key) and
:func:`tokenizer_from_config` rebuilds the tokenizer from it.

A tokenizer plugin is a class with ``from_config(cfg) -> tokenizer`` whose
instances provide what :func:`check_tokenizer` exercises: the special ids
``PAD=0, UNK=1, CLS=2, MASK=3``, ``vocab_size``, ``dtype``, ``n_tokens(length)``,
``encode(seq)``, ``encode_batch(seqs, max_len=None, ids=None)``, ``config()``
and ``__eq__``. Plugin authors call ``check_tokenizer(MyTokenizer(...))`` in
their own tests (as scikit-learn's ``check_estimator``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bioseq.errors import ConfigError, PluginError
from bioseq.plugins import Registry

SPECIAL_IDS = {"PAD": 0, "UNK": 1, "CLS": 2, "MASK": 3}
_REQUIRED = ("vocab_size", "dtype", "n_tokens", "encode", "encode_batch", "config")


def _validate(name: str, obj: Any) -> None:
    """Registry hook: a tokenizer entry must be a class-like object with ``from_config``."""
    if not callable(getattr(obj, "from_config", None)):
        raise PluginError(f"tokenizer plugin {name!r} ({obj!r}) has no callable from_config(cfg)")


TOKENIZERS: Registry[Any] = Registry("bioseq.tokenizers", validate=_validate)


def tokenizer_from_config(cfg: Mapping[str, Any]) -> Any:
    """Build the tokenizer described by ``cfg`` (the output of some tokenizer's ``config()``).

    Raises:
        ConfigError: ``cfg`` is not a mapping or has no ``"name"``.
        PluginError: no tokenizer of that name is installed.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"tokenizer config must be a mapping, got {type(cfg).__name__}")
    name = cfg.get("name")
    if not isinstance(name, str):
        raise ConfigError(f"tokenizer config has no 'name' key naming the tokenizer: {dict(cfg)!r}")
    return TOKENIZERS.get(name).from_config(cfg)


def _fail(tok: Any, check: str, detail: str) -> PluginError:
    return PluginError(f"tokenizer {tok!r} fails check {check!r}: {detail}")


def _sample_sequences(tok: Any, rng: np.random.Generator) -> list[str]:
    letters = getattr(getattr(tok, "alphabet", None), "letters", None)
    if not letters:
        raise _fail(tok, "sequences", "it has no .alphabet.letters; pass sequences= explicitly")
    lengths = [n for n in range(1, 80) if tok.n_tokens(n) > 0]
    if not lengths:
        raise _fail(tok, "n_tokens", "n_tokens(L) is 0 for every L < 80")
    picks = [lengths[0], lengths[0] + 1, *rng.choice(lengths, size=6)]
    return ["".join(rng.choice(list(letters), size=int(n))) for n in picks]


def check_tokenizer(tok: Any, sequences: Sequence[str] | None = None) -> None:
    """Run conformance checks on a tokenizer instance; raise :class:`PluginError` on the first failure.

    Args:
        tok: the tokenizer to check.
        sequences: valid sequences (no ambiguity codes), each long enough for at
            least one token; by default random ones from ``tok.alphabet.letters``.

    Checks, in order (each a function below, named in the error): required
    attributes, special ids, ``vocab_size`` and ``dtype`` (an integer dtype that
    holds every id); ``config()`` is JSON with a ``"name"`` and round-trips
    through ``from_config`` (and the registry, when the name is registered) to
    an equal tokenizer; ``encode`` gives ``n_tokens(len(seq))`` ids in
    ``[4, vocab_size)``; ``encode_batch`` equals the single encodes, padded with
    ``PAD``, with int64 lengths, and ``max_len`` truncates; an empty batch
    works; ``decode`` (if present) round-trips at the token level.
    """
    _check_interface(tok)
    _check_config(tok)
    seqs = list(sequences) if sequences is not None else _sample_sequences(tok, np.random.default_rng(0))
    singles = _check_encode(tok, seqs)
    _check_encode_batch(tok, seqs, singles)
    if hasattr(tok, "decode"):
        _check_decode(tok, singles)


def _check_interface(tok: Any) -> None:
    """Required attributes, the fixed special ids, and a dtype that holds ``vocab_size`` ids."""
    for attr in _REQUIRED:
        if not hasattr(tok, attr):
            raise _fail(tok, "attributes", f"missing {attr!r}")
    for name, value in SPECIAL_IDS.items():
        if getattr(tok, name, None) != value:
            raise _fail(tok, "special ids", f"{name} must be {value}, got {getattr(tok, name, None)!r}")
    vocab = tok.vocab_size
    if not isinstance(vocab, int) or vocab <= len(SPECIAL_IDS):
        raise _fail(tok, "vocab_size", f"must be an int > {len(SPECIAL_IDS)}, got {vocab!r}")
    dtype = np.dtype(tok.dtype)
    if dtype.kind not in "iu" or np.iinfo(dtype).max < vocab - 1:
        raise _fail(tok, "dtype", f"{dtype} cannot hold ids up to {vocab - 1}")


def _check_config(tok: Any) -> None:
    """``config()`` is JSON with a name and rebuilds an equal tokenizer (directly and via the registry):
    what a model bundle relies on."""
    cfg = tok.config()
    try:
        cfg_json = json.loads(json.dumps(cfg))
    except (TypeError, ValueError) as exc:
        raise _fail(tok, "config", f"config() is not JSON-serialisable: {exc}") from None
    if not isinstance(cfg_json.get("name"), str):
        raise _fail(tok, "config", "config() has no 'name' string")
    rebuilt = type(tok).from_config(cfg_json)
    if rebuilt != tok or rebuilt.config() != cfg:
        raise _fail(tok, "config round trip", f"from_config(config()) gave {rebuilt!r}")
    if cfg_json["name"] in TOKENIZERS and tokenizer_from_config(cfg_json) != tok:
        raise _fail(tok, "registry round trip", f"tokenizer_from_config gave a different tokenizer for {cfg}")


def _check_encode(tok: Any, seqs: list[str]) -> list[np.ndarray]:
    """``encode`` of each sequence: the tokenizer's dtype, ``n_tokens(len)`` ids, all k-mer ids.

    Returns the encodings (1-D arrays), the reference for the batch and decode checks.
    """
    dtype, vocab = np.dtype(tok.dtype), tok.vocab_size
    singles = []
    for seq in seqs:
        ids = np.asarray(tok.encode(seq))
        if ids.dtype != dtype:
            raise _fail(tok, "encode dtype", f"encode gave {ids.dtype}, dtype says {dtype}")
        if ids.shape != (tok.n_tokens(len(seq)),):
            raise _fail(tok, "encode length", f"{len(seq)} letters gave shape {ids.shape}, "
                        f"n_tokens says {tok.n_tokens(len(seq))}")
        if ids.size and (ids.min() < len(SPECIAL_IDS) or ids.max() >= vocab):
            raise _fail(tok, "encode range", f"ids of {seq!r} outside [4, {vocab}): {ids.tolist()}")
        singles.append(ids)
    return singles


def _check_encode_batch(tok: Any, seqs: list[str], singles: list[np.ndarray]) -> None:
    """``encode_batch``: rows equal the single encodes padded with PAD, int64 lengths,
    ``max_len`` truncation, and an empty batch."""
    dtype = np.dtype(tok.dtype)
    tokens, lengths = tok.encode_batch(seqs, ids=[f"r{i}" for i in range(len(seqs))])
    lengths = np.asarray(lengths)
    width = max(len(s) for s in singles)
    if lengths.dtype != np.int64 or lengths.tolist() != [len(s) for s in singles]:
        raise _fail(tok, "batch lengths", f"got {lengths!r}, expected int64 {[len(s) for s in singles]}")
    if tokens.dtype != dtype or tokens.shape != (len(seqs), width):
        raise _fail(tok, "batch shape", f"got {tokens.dtype} {tokens.shape}, expected {dtype} "
                    f"{(len(seqs), width)}")
    for i, ids in enumerate(singles):
        if not np.array_equal(tokens[i, : len(ids)], ids) or np.any(tokens[i, len(ids):] != 0):
            raise _fail(tok, "batch padding", f"row {i} is not encode(seq) followed by PAD")
    short = max(1, width // 2)
    cut, cut_lengths = tok.encode_batch(seqs, max_len=short)
    if cut.shape[1] != min(short, width) or not np.array_equal(cut_lengths, np.minimum(lengths, short)):
        raise _fail(tok, "max_len", f"max_len={short} gave shape {cut.shape}, lengths {cut_lengths}")
    if not np.array_equal(cut, tokens[:, : cut.shape[1]]):
        raise _fail(tok, "max_len", "truncated tokens differ from the first max_len tokens")
    empty, empty_lengths = tok.encode_batch([])
    if empty.shape[0] != 0 or len(empty_lengths) != 0:
        raise _fail(tok, "empty batch", f"got shapes {empty.shape}, {np.shape(empty_lengths)}")


def _check_decode(tok: Any, singles: list[np.ndarray]) -> None:
    """``encode(decode(t)) == t``: decoding loses nothing the tokens hold."""
    for ids in singles:
        again = np.asarray(tok.encode(tok.decode(ids)))
        if not np.array_equal(again, ids):
            raise _fail(tok, "decode", f"encode(decode(t)) != t for t={ids.tolist()}")
