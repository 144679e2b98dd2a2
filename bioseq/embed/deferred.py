"""A model bundle opened for embedding without loading its weights until they are needed.

A cached rerun of ``bioseq embed`` (a Snakemake rerun over many small shards)
must cost reading the input and the cache, not importing torch and loading the
weights. Everything the cache needs comes from the bundle's metadata
(:func:`bioseq.bundle.read_metadata`: fingerprint, tokenizer configuration,
alphabet, architecture) and, for the embedding width, from the cache's group of
that fingerprint; the model is loaded (with its device and CPU threads) the
first time a sequence must actually be computed.

An external encoder given as ``esm:PATH`` / ``hf:PATH``
(:mod:`bioseq.models.external`) is deferred the same way: opening it hashes
its weight files (its fingerprint) and nothing more, and its width comes from
the cache's group when the file does not tell it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bioseq.alphabets import get_alphabet
from bioseq.bundle import load, read_metadata
from bioseq.embed.cache_format import cached_group_attrs
from bioseq.errors import BioseqError, BundleError, ConfigError
from bioseq.models.ensemble import ENSEMBLE_KIND
from bioseq.models.external import is_encoder_spec, open_encoder
from bioseq.tokenize.registry import tokenizer_from_config

__all__ = ["DeferredModel", "as_model"]


class DeferredModel:
    """The embedding duck type of :mod:`bioseq.embed.embed` for a bundle whose weights load on first use.

    Args:
        path: the ``.safetensors`` bundle (its metadata is read and validated now).
        device: where the model goes when it is loaded (``cpu``, ``cuda``, ``auto``).
        threads: CPU threads for torch, set when the model is loaded (None: torch's default).
        cache: the embedding cache the run uses; its group of this model gives
            :attr:`embedding_dim` without loading the model.
    """

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu", threads: int | None = None,
                 cache: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path)
        self.info = read_metadata(self.path)
        self.device, self.threads, self.cache = device, threads, cache
        self._model: Any = None
        self._dim: int | None = None
        info = self.info
        self.fingerprint: str = info["fingerprint"]
        self.arch: str = info["arch"]
        try:
            # what the loaded model's tokenizer.config() gives (an ensemble exposes no tokenizer)
            self.tokenizer = None if info.get("kind") == ENSEMBLE_KIND else tokenizer_from_config(info["tokenizer"])
            self.alphabet: str = get_alphabet(info.get("alphabet") or info["tokenizer"]["alphabet"]).name
        except (BioseqError, KeyError, TypeError) as exc:
            raise BundleError(f"invalid tokenizer or alphabet in the metadata: {exc}", path=self.path) from None

    @property
    def loaded(self) -> bool:
        """Whether the weights were loaded (something had to be computed)."""
        return self._model is not None

    @property
    def model(self) -> Any:
        """The loaded model (loads it, with torch, on first access)."""
        if self._model is None:
            from bioseq.device import set_threads

            set_threads(self.threads)
            self._model = load(self.path, device=self.device)
        return self._model

    @property
    def embedding_dim(self) -> int:
        """The width of an embedding: from the cache's group of this model when it has one, else the model's."""
        if self._model is not None:
            return int(self._model.embedding_dim)
        if self._dim is None and self.cache is not None:
            attrs = cached_group_attrs(self.cache, self.fingerprint)
            self._dim = None if attrs is None else int(attrs["embedding_dim"])
        return self._dim if self._dim is not None else int(self.model.embedding_dim)

    def embed_sequences(self, seqs: Sequence[str], batch_size: int = 256,
                        ids: Sequence[str] | None = None) -> np.ndarray:
        return self.model.embed_sequences(seqs, batch_size=batch_size, ids=ids)

    def embed_positions(self, seqs: Sequence[str]) -> Any:
        return self.model.embed_positions(seqs)

    def __repr__(self) -> str:
        return f"DeferredModel({os.fspath(self.path)!r}, loaded={self.loaded})"


def as_model(model: Any, cache: str | os.PathLike[str] | None = None, device: str | None = None,
             threads: int | None = None) -> Any:
    """``model`` itself when it is a loaded model, a :class:`DeferredModel` when it is a bundle path,
    an encoder (not loaded yet) when it is ``esm:PATH`` / ``hf:PATH``.

    ``device``/``threads`` apply to a bundle loaded here; a loaded model stays where it is
    (load it with ``bioseq.load(path, device=...)``), so passing them with one is a ConfigError.
    """
    if is_encoder_spec(model):
        encoder = open_encoder(model, device=device or "cpu", threads=threads)
        if cache is not None:
            attrs = cached_group_attrs(cache, encoder.fingerprint)
            encoder.known_dim = None if attrs is None else int(attrs["embedding_dim"])
        return encoder
    if isinstance(model, (str, os.PathLike)):
        return DeferredModel(model, device=device or "cpu", threads=threads, cache=cache)
    if device is not None or threads is not None:
        raise ConfigError("device= and threads= apply when the model is given as a bundle path; a loaded "
                          "model stays on its device (bioseq.load(path, device=...))")
    return model
