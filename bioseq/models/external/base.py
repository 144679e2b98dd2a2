"""What every external (pretrained, frozen) encoder shares: identity, windows, pooling.

An encoder plugin (``esm``, ``hf``, or a third party's, group ``bioseq.encoders``)
subclasses :class:`Encoder` and supplies four things: ``weights_files()`` (the
local files that make up the model: what its fingerprint hashes),
``_read_dim()`` (the embedding width, from the files, or None when only loading
tells), ``_load(device)`` (the heavy part: imports its library, builds the net)
and ``_embed_windows(windows)`` (the last layer's per-token output of each
window, special tokens dropped). Everything else is here, once:

* **Nothing is downloaded.** The location is a local path; a missing one is a
  :class:`~bioseq.errors.ConfigError` naming it and saying where such weights
  come from (``weights_hint``), for the user to fetch.
* **Identity.** :meth:`Encoder.config` (scheme, path, sha256 of the weight
  files, window, pooling) less the path is what :attr:`Encoder.fingerprint`
  hashes: an embedding cache keys its rows by it, so rows of other weights, or
  of the same weights windowed differently, never answer for these, while the
  same weights moved to another folder still find their rows.
* **Long inputs** are cut into windows of ``max_residues`` letters overlapping
  by half a window (the last aligned to the end: :func:`bioseq.data.windows.window_starts`).
  Each residue's embedding is the **mean of its per-residue embeddings over the
  windows that cover it**; the sequence embedding is the mean over its residues.
  A tokenizer whose tokens are not single residues (k-mers, BPE) has no
  per-residue embedding: its sequence embedding is the mean over windows of each
  window's mean token embedding.
* The heavy libraries (torch, fair-esm, transformers) are imported on first use,
  so opening an encoder for a fully cached rerun costs hashing its files only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bioseq.data.windows import window_starts
from bioseq.errors import ConfigError

ENCODER_FORMAT = "bioseq-encoder"
DEFAULT_MAX_RESIDUES = 1022  # ESM-2's training crop: 1022 residues + BOS/EOS
# Letters per forward pass at most (attention memory grows with batch x length^2): a batch of
# ``batch_size`` windows is split further when its windows are long.
LETTERS_PER_BATCH = 16384
_HASH_BLOCK = 1 << 20
# sha256 of files already hashed in this process, by (path, size, mtime): training hashes the weights when it
# records them and again when the head first embeds; a multi-GB checkpoint should be read once.
_DIGESTS: dict[tuple, str] = {}


def digest_files(files: Sequence[Path], root: Path) -> str:
    """sha256 hex of the weights: for ``root`` a single file, of its bytes (what ``sha256sum`` prints, so a
    user can check it against a published checksum); for a directory, over ``files`` in order, each as its
    name relative to ``root``, size and bytes."""
    key = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files) + (str(root),)
    if key in _DIGESTS:
        return _DIGESTS[key]
    h = hashlib.sha256()
    for f in files:
        if f != root:
            h.update(f"{f.relative_to(root).as_posix()}\0{f.stat().st_size}\0".encode())
        with open(f, "rb") as fh:
            while block := fh.read(_HASH_BLOCK):
                h.update(block)
    _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


class EncoderTokenizer:
    """What an embedding cache records as the tokenizer of an encoder: its configuration."""

    def __init__(self, encoder: Encoder) -> None:
        self._encoder = encoder

    def config(self) -> dict[str, Any]:
        return self._encoder.config()


class Encoder:
    """A frozen pretrained encoder read from a local path; the embedding duck type of
    :mod:`bioseq.embed.embed` (``fingerprint``, ``embedding_dim``, ``tokenizer``,
    ``alphabet``, ``arch``, ``embed_sequences``, ``embed_positions``, ``loaded``).

    Args:
        location: a local file or directory (the part of ``esm:PATH`` after the colon).
        device: where the net runs once loaded (``cpu``, ``cuda``, ``auto``).
        threads: CPU threads for torch, set when the net is loaded (None: torch's default).
    """

    scheme = ""  # the spec prefix, e.g. "esm"
    extra = ""  # the bioseq extra that installs the library
    weights_hint = ""  # where such weights come from (for the missing-file error)
    alphabet: str | None = None  # None: DNA, RNA or protein (the tokenizer decides)

    def __init__(self, location: str, device: str = "cpu", threads: int | None = None) -> None:
        if not location:
            raise ConfigError(f"an encoder is given as {self.scheme}:PATH, with a local path after the colon")
        self.path = Path(location).expanduser().resolve()
        self.device_name, self.threads = device, threads
        self._check_location()
        self.max_residues = DEFAULT_MAX_RESIDUES
        self.per_residue = True  # False when tokens are not single residues (set by _load)
        self._digest: str | None = None
        self._dim: int | None = None
        self.known_dim: int | None = None  # the width an embedding cache recorded (no load needed)
        self.device: Any = None
        self.tokenizer = EncoderTokenizer(self)

    # ------------------------------------------------------------------ subclass hooks
    def _check_location(self) -> None:
        """Raise :class:`ConfigError` naming :attr:`path` unless it holds this encoder's files."""
        if not self.path.is_file():
            raise self.missing(f"no such {self.scheme} weights file")

    def weights_files(self) -> list[Path]:
        """The files the fingerprint covers (the weights, config and vocabulary)."""
        return [self.path]

    def _read_dim(self) -> int | None:
        return None

    def _load(self, device: Any) -> None:  # pragma: no cover - provided by the subclass
        raise NotImplementedError

    def _embed_windows(self, windows: list[str]) -> list[np.ndarray]:  # pragma: no cover - subclass
        """float32 ``(T_j, D)`` per window: the last layer's output at its non-special tokens."""
        raise NotImplementedError

    # ------------------------------------------------------------------ identity
    def missing(self, what: str) -> ConfigError:
        """The error for weights that are not where the user said: names the path and the source."""
        return ConfigError(f"{what}; bioseq never downloads weights: fetch them yourself ({self.weights_hint}) "
                           f"and give the local path as {self.scheme}:PATH", path=self.path)

    @property
    def spec(self) -> str:
        """``scheme:absolute path``: what a bundle records to find this encoder again."""
        return f"{self.scheme}:{self.path}"

    @property
    def arch(self) -> str:
        return self.scheme

    @property
    def overlap(self) -> int:
        return self.max_residues // 2

    def weights_digest(self) -> str:
        """sha256 of :meth:`weights_files` (computed once; no torch)."""
        if self._digest is None:
            self._digest = digest_files(self.weights_files(), self.path)
        return self._digest

    def config(self) -> dict[str, Any]:
        """What the fingerprint covers: the weights and how sequences become vectors."""
        return {"format": ENCODER_FORMAT, "encoder": self.scheme, "path": str(self.path),
                "weights_sha256": self.weights_digest(), "alphabet": self.alphabet,
                "window": self.max_residues, "overlap": self.overlap, "pooling": "mean", "layer": "last"}

    @property
    def fingerprint(self) -> str:
        """sha256 hex of :meth:`config` without the path: the same weights moved elsewhere keep their
        cached embeddings (the weights' sha256 identifies them)."""
        cfg = {k: v for k, v in self.config().items() if k != "path"}
        return hashlib.sha256(json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    @property
    def embedding_dim(self) -> int:
        """Width D of an embedding: from the files, a cache's record, or (last resort) loading the net."""
        if self._dim is None:
            self._dim = self.known_dim or self._read_dim()
        if self._dim is None:
            self.load()
            self._dim = self._read_dim()
        if not self._dim:
            raise ConfigError(f"cannot tell the embedding width of this {self.scheme} encoder", path=self.path)
        return int(self._dim)

    # ------------------------------------------------------------------ running
    @property
    def loaded(self) -> bool:
        return self.device is not None

    def load(self) -> Encoder:
        """Import the library and build the net (once), on :attr:`device_name` with :attr:`threads`."""
        if self.device is None:
            from bioseq.device import resolve_device, set_threads

            set_threads(self.threads)
            device = resolve_device(self.device_name)
            self._load(device)
            self.device = device
        return self

    def _window_outputs(self, seqs: Sequence[str], batch_size: int) -> list[list[tuple[int, np.ndarray]]]:
        """Per sequence, ``(start, (T, D) output)`` of each of its windows; windows are run longest
        first, at most ``batch_size`` and :data:`LETTERS_PER_BATCH` letters at a time."""
        self.load()
        step = max(1, self.max_residues - self.overlap)
        pieces = [(i, s) for i, seq in enumerate(seqs) for s in window_starts(len(seq), self.max_residues, step)]
        texts = [seqs[i][s:s + self.max_residues] for i, s in pieces]
        order = sorted(range(len(pieces)), key=lambda j: -len(texts[j]))
        out: list[list[tuple[int, np.ndarray]]] = [[] for _ in seqs]
        lo = 0
        while lo < len(order):
            size = max(1, min(batch_size, LETTERS_PER_BATCH // max(1, len(texts[order[lo]]))))
            batch = order[lo:lo + size]
            for j, arr in zip(batch, self._embed_windows([texts[j] for j in batch]), strict=True):
                out[pieces[j][0]].append((pieces[j][1], np.asarray(arr, np.float32)))
            lo += size
        return out

    def residue_embeddings(self, seqs: Sequence[str], batch_size: int = 8,
                           ids: Sequence[str] | None = None) -> list[np.ndarray]:
        """float32 ``(L_i, D)`` per sequence: each residue's mean over the windows covering it."""
        result = []
        for i, parts in enumerate(self._window_outputs(seqs, batch_size)):
            length = len(seqs[i])
            if not self.per_residue or any(a.shape[0] != min(self.max_residues, length) for _, a in parts):
                raise ConfigError(
                    f"the {self.scheme} encoder's tokens are not single residues (k-mers or sub-words), so it "
                    "has no per-residue embeddings; use its pooled embeddings (bioseq embed, fit-head) "
                    "or the esm-head's mean-mlp head", path=self.path,
                    record=None if ids is None else ids[i])
            total = np.zeros((length, parts[0][1].shape[1]), np.float64)
            count = np.zeros(length, np.int64)
            for start, arr in parts:
                total[start:start + len(arr)] += arr
                count[start:start + len(arr)] += 1
            result.append((total / count[:, None]).astype(np.float32))
        return result

    def embed_sequences(self, seqs: Sequence[str], batch_size: int = 8,
                        ids: Sequence[str] | None = None) -> np.ndarray:
        """Pooled embeddings float32 ``(n, D)``: the mean over residues (see the module doc)."""
        if not seqs:
            return np.zeros((0, self.embedding_dim), np.float32)
        self.load()  # a tokenizer's per_residue is known once loaded
        if self.per_residue:
            return np.stack([r.mean(axis=0) for r in self.residue_embeddings(seqs, batch_size, ids)])
        parts = self._window_outputs(seqs, batch_size)
        return np.stack([np.mean([a.mean(axis=0) for _, a in p], axis=0) for p in parts]).astype(np.float32)

    def embed_positions(self, seqs: Sequence[str], batch_size: int = 8,
                        ids: Sequence[str] | None = None) -> list[np.ndarray]:
        """Per-residue embeddings (``bioseq embed --per-position``): :meth:`residue_embeddings`."""
        return self.residue_embeddings(seqs, batch_size, ids)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r}, loaded={self.loaded})"
