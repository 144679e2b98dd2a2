"""``bioseq.train``: labelled sequences in, a trained classifier or ensemble (and its bundle) out.

One entry point for every way of training: a registry architecture
(:func:`bioseq.training.single.train_single`, where the choices made for the
user are listed) or ``arch="auto"`` (:func:`bioseq.training.auto.train_auto`:
the candidates within the time budget, then the best single member or a
weighted ensemble).
"""

from __future__ import annotations

from typing import Any

from bioseq.logs import verbose_logging
from bioseq.models.classifier import Classifier
from bioseq.models.ensemble import ENSEMBLE_ARCH, EnsembleClassifier
from bioseq.training.auto import train_auto
from bioseq.training.config import TrainConfig
from bioseq.training.distributed import maybe_process_group
from bioseq.training.finetune import resolve_init
from bioseq.training.single import train_single


def train(
    train: Any, valid: Any = None, arch: str | None = None, *, config: TrainConfig | None = None, **options: Any
) -> Classifier | EnsembleClassifier:
    """Train a classifier (or, with ``arch="auto"``, an ensemble) and (with ``output``) write its bundle.

    Args:
        train: labelled training data: a path, a list of paths, ``"-"``, an
            iterable of records with labels (``SequenceItem`` (``id``, ``seq``,
            ``labels``), ``(id, sequence, label)`` triples, ``SeqRecord`` s with
            ``annotations["labels"]``), or a pandas DataFrame with ``id``,
            ``sequence`` and ``label`` columns (:func:`bioseq.io.sources.iter_source`).
        valid: validation data in the same forms; None holds out a seeded,
            stratified 10 % of ``train``.
        arch: architecture name (short for ``arch=`` in the options), or
            ``"auto"`` (:mod:`bioseq.training.auto`).
        config: a :class:`~bioseq.training.config.TrainConfig`; ``options``
            override its fields.
        **options: any field of :class:`~bioseq.training.config.TrainConfig`
            (``epochs``, ``max_time``, ``hparams``, ``output``, ``candidates``, ...);
            an unknown name raises :class:`~bioseq.errors.ConfigError`.

    Returns:
        The trained classifier (best validation weights), or for ``auto`` the
        :class:`~bioseq.models.ensemble.EnsembleClassifier` kept.
    """
    if arch is not None:
        options["arch"] = arch
    cfg = config.replace(**options) if config is not None else TrainConfig.from_options(options)
    with verbose_logging(cfg.verbose):
        return _train(train, valid, cfg)


def _train(train: Any, valid: Any, cfg: TrainConfig) -> Classifier | EnsembleClassifier:
    cfg = resolve_init(cfg)  # --init: architecture and alphabet from the encoder, conflicts refused
    if cfg.arch == ENSEMBLE_ARCH:
        return train_auto(train, valid, cfg)
    with maybe_process_group(cfg.distributed, cfg.device) as (dist_ctx, device):
        return train_single(train, valid, cfg, dist_ctx, device)
