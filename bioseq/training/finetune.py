"""Fine-tuning from a pretrained encoder: ``bioseq train --init ENCODER [--freeze-encoder | --unfreeze-after N]``.

The encoder (``bioseq pretrain``, :mod:`bioseq.training.pretrain`) fixes what
its trunk was trained on: the architecture, the tokenizer (k, stride,
canonical, alphabet) and the trunk's hyper-parameters. The classifier is built
from exactly those (:func:`bioseq.training.single.fit_member` calls
:func:`load_init`), gets the trunk's weights copied exactly
(:func:`bioseq.models.encoder.copy_trunk`) and a new pooling and head, then
trains as usual. An option that would change what the trunk sees or is
(``arch``, ``k``, ``stride``, ``canonical``, ``alphabet`` other than the
encoder's, or a trunk-shaping hyper-parameter) is a :class:`ConfigError`
naming the encoder, since the copied weights would no longer mean anything.

The classifier's bundle records the encoder's fingerprint and what it was
pretrained on (``metadata["init"]``), and a resumed run checks the same
encoder is given. With ``arch="auto"`` the fine-tuned net is one more
candidate, :data:`PRETRAINED_CANDIDATE`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from bioseq.bundle import load_encoder, read_metadata
from bioseq.errors import BundleError, ConfigError
from bioseq.models.config_schema import ENCODER_KIND
from bioseq.models.encoder import TRUNK_PREFIX, PretrainedEncoder
from bioseq.models.ensemble import ENSEMBLE_ARCH
from bioseq.training.config import TrainConfig

log = logging.getLogger("bioseq.training")

PRETRAINED_CANDIDATE = "pretrained"  # the --arch auto candidate fine-tuned from --init


def encoder_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated metadata of encoder bundle ``path`` (weights not read).

    Raises:
        BundleError: not a bundle, or a classifier bundle rather than an encoder.
    """
    meta = read_metadata(path)
    if meta.get("kind") != ENCODER_KIND:
        raise BundleError(
            f"is a {meta.get('kind')} classifier bundle, not a pretrained encoder: --init takes the output "
            "of `bioseq pretrain`",
            path=path,
        )
    return meta


def resolve_init(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the encoder's architecture and alphabet filled in; conflicts are named errors.

    Without ``init`` the configuration comes back unchanged. (With ``arch="auto"``
    :func:`bioseq.training.auto.plan_candidates` adds :data:`PRETRAINED_CANDIDATE`.)
    """
    if cfg.init is None:
        return cfg
    meta = encoder_metadata(cfg.init)
    name = Path(cfg.init).name
    tok = meta["tokenizer"]
    if cfg.arch not in (None, ENSEMBLE_ARCH, meta["arch"]):
        raise ConfigError(f"--arch {cfg.arch} conflicts with the encoder {name}, a {meta['arch']} trunk: the "
                          "architecture comes from --init (leave --arch out or give auto)", path=cfg.init)
    for key in ("k", "stride", "canonical"):
        value = getattr(cfg, key)
        if value is not None and value != tok.get(key):
            raise ConfigError(f"{key} {value!r} conflicts with the encoder {name}'s tokenizer ({key} "
                              f"{tok.get(key)!r}): the tokenizer comes from --init", path=cfg.init)
    alphabet = meta.get("alphabet") or tok.get("alphabet")
    if cfg.alphabet is not None and cfg.alphabet != alphabet:
        raise ConfigError(f"alphabet {cfg.alphabet!r} conflicts with the encoder {name}, pretrained on "
                          f"{alphabet!r} sequences", path=cfg.init)
    if cfg.unfreeze_after is not None and cfg.distributed:
        raise ConfigError("unfreeze_after changes which parameters DDP synchronises mid-run: under torchrun "
                          "use --freeze-encoder or neither")
    return cfg.replace(alphabet=alphabet, arch=cfg.arch or meta["arch"])


def load_init(cfg: TrainConfig) -> PretrainedEncoder:
    """The encoder of ``cfg.init`` (weights checked against its fingerprint)."""
    return load_encoder(cfg.init)  # type: ignore[arg-type]


def init_record(encoder: PretrainedEncoder, cfg: TrainConfig) -> dict[str, Any]:
    """``metadata["init"]`` of a fine-tuned classifier: which encoder, pretrained on what, how it was used."""
    meta = encoder.metadata
    return {
        "encoder": Path(cfg.init).name,  # type: ignore[arg-type]
        "fingerprint": encoder.fingerprint,
        "arch": encoder.arch,
        "objective": meta.get("objective"),
        "pretrain_data": meta.get("pretrain_data"),
        "freeze_encoder": bool(cfg.freeze_encoder),
        "unfreeze_after": cfg.unfreeze_after,
    }


def frozen_trunk(cfg: TrainConfig) -> tuple[str | None, int | None]:
    """``(frozen parameter prefix, epoch it is unfrozen)`` for the loop (``LoopConfig``)."""
    if cfg.init is None or not (cfg.freeze_encoder or cfg.unfreeze_after is not None):
        return None, None
    return f"{TRUNK_PREFIX}", cfg.unfreeze_after
