"""External pretrained encoders (protein/DNA language models) as plugins: ``esm:PATH``, ``hf:PATH``.

A model argument of the form ``SCHEME:LOCAL_PATH`` names an encoder of the
registry :data:`ENCODERS` (entry-point group ``bioseq.encoders``; built-ins
``esm`` -- fair-esm checkpoints, extra ``bioseq[esm]`` -- and ``hf`` --
Hugging Face directories, extra ``bioseq[hf]``). An encoder is the embedding
duck type of :mod:`bioseq.embed.embed`, so ``bioseq embed esm:/w/esm2.pt
proteins.fa --cache emb.h5``, ``bioseq fit-head`` and ``bioseq predict
esm:/w/esm2.pt ... --head HEAD`` work on it as on a bundle; ``bioseq train
--arch esm-head`` (:mod:`bioseq.models.external.head`) trains a small head on
its frozen per-residue embeddings. A plugin's encoder class subclasses
:class:`~bioseq.models.external.base.Encoder` and is constructed as
``cls(location, device=..., threads=...)``; nothing heavy happens before the
first sequence is embedded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bioseq.errors import ConfigError, PluginError
from bioseq.plugins import Registry

_SPEC = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]+):(.*)$", re.S)


def _validate_encoder(name: str, cls: Any) -> None:
    """Registry hook: an encoder class must be constructible from a location and embed sequences."""
    for attr in ("scheme", "embed_sequences", "fingerprint", "embedding_dim"):
        if not hasattr(cls, attr):
            raise PluginError(f"encoder {name!r} ({cls!r}) lacks {attr!r}; subclass "
                              "bioseq.models.external.base.Encoder")


ENCODERS: Registry[Any] = Registry(
    "bioseq.encoders", validate=_validate_encoder,
    builtins={"esm": "bioseq.models.external.esm:EsmEncoder", "hf": "bioseq.models.external.hf:HfEncoder"},
)


def split_spec(model: Any) -> tuple[str, str] | None:
    """``(scheme, location)`` when ``model`` is a string ``SCHEME:PATH`` of a registered encoder, else None.

    An existing file of that literal name stays a file (a bundle called ``esm:x``).
    """
    if not isinstance(model, str):
        return None
    m = _SPEC.match(model)
    if m is None or m.group(1) not in ENCODERS or Path(model).exists():
        return None
    return m.group(1), m.group(2)


def is_encoder_spec(model: Any) -> bool:
    return split_spec(model) is not None


def open_encoder(spec: str, device: str = "cpu", threads: int | None = None) -> Any:
    """The encoder named by ``spec`` (``esm:/w/esm2_t12_35M_UR50D.pt``, ``hf:/w/dir``); nothing loaded yet.

    Raises:
        ConfigError: not a ``SCHEME:PATH`` of a known encoder, or the path does not hold its weights
            (the message names the path and where such weights come from).
    """
    parts = split_spec(spec)
    if parts is None:
        raise ConfigError(f"{spec!r} is no encoder: give SCHEME:LOCAL_PATH with SCHEME one of "
                          f"{', '.join(ENCODERS.names())}")
    scheme, location = parts
    return ENCODERS.get(scheme)(location, device=device, threads=threads)


__all__ = ["ENCODERS", "is_encoder_spec", "open_encoder", "split_spec"]
