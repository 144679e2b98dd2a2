"""Training one architecture: labelled sequences in, a trained classifier (and its bundle) out.

:func:`bioseq.training.api.train` calls :func:`train_single` for a registry
architecture; ``--arch auto`` (:mod:`bioseq.training.auto`) reads the data once
with :func:`load_data` and calls :func:`fit_member` per candidate.

Choices made for the user, each logged (logger ``bioseq.training``):

* alphabet: inferred from the first records when not given (ACGT(N) -> dna,
  ACGU(N) -> rna, else protein);
* task: any record with several labels -> multilabel; two classes -> binary;
  more -> multiclass (:mod:`bioseq.training.labels`);
* validation: without a validation file, a seeded stratified 10 % of the
  training records is held out;
* selection metric: MCC (single-label) or macro-AUPRC (multilabel);
* class imbalance: "balanced" loss weights (``pos_weight`` for multilabel);
* DNA/RNA: reverse-complement augmentation only when asked for
  (:class:`~bioseq.training.config.TrainConfig` says why);
* device: CUDA with bf16 autocast when available, else CPU float32.

The kmer-linear baseline goes through the same function: it is fitted once on
the training set, scored on the validation set, and saved in the same bundle
format.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bioseq.bundle import save_bundle
from bioseq.device import resolve_device, set_threads
from bioseq.errors import BioseqError, ConfigError, LabelError
from bioseq.evaluate.metrics import selection_metric, validation_metrics
from bioseq.io.sources import RECORDS, rereadable
from bioseq.models.classifier import Classifier, check_strands, default_long_input
from bioseq.models.encoder import copy_trunk
from bioseq.models.inference import encode_pieces
from bioseq.models.registry import get_model, merge_hparams, resolve_hparams
from bioseq.tasks import LabelEncoder
from bioseq.tokenize.kmer import KmerTokenizer
from bioseq.training.checkpoint import checkpoint_path
from bioseq.training.config import TrainConfig
from bioseq.training.data import LabelledSet, load_labelled, resolve_alphabet, stratified_split
from bioseq.training.finetune import frozen_trunk, init_record, load_init
from bioseq.training.labels import infer_task, label_counts, length_summary
from bioseq.training.loop import (
    DistContext,
    FitResult,
    LoopConfig,
    TrainTensors,
    ValidTensors,
    _finite,
    fit_torch,
    validation_loss,
)

log = logging.getLogger("bioseq.training")

DEFAULT_LR = 1e-3  # for architectures that declare no `default_lr`
VALID_FRACTION = 0.1
ENCODE_CHUNK = 2048


@dataclass
class LabelledData:
    """The labelled data of one run, with the task and targets inferred from it."""

    alphabet: str
    train: LabelledSet
    valid: LabelledSet
    task: str
    encoder: LabelEncoder
    y_train: np.ndarray
    y_valid: np.ndarray


def train_single(
    train_src: Any, valid_src: Any, cfg: TrainConfig, dist_ctx: DistContext, device: Any
) -> Classifier:
    """Train architecture ``cfg.arch`` and (with ``cfg.output``, on the main rank) write its bundle."""
    t_begin = time.monotonic()
    arch_cls = get_model(cfg.arch)
    set_threads(cfg.threads)
    resolve_hparams(arch_cls, cfg.alphabet or "dna", cfg.hparams)  # fail fast on an unknown key, before reading
    data = load_data(train_src, valid_src, cfg)
    sel = selection_metric(data.task, cfg.metric)
    if dist_ctx.is_main:
        log_data(data, sel)
    model, fit = fit_member(arch_cls, data, cfg, sel, dist_ctx, device, t_begin)
    if cfg.output is not None and dist_ctx.is_main:
        save_bundle(model, cfg.output)
        log.info("wrote %s (validation %s %s)", cfg.output, sel, fit.best_metrics.get(sel))
    return model


def log_data(data: LabelledData, sel: str) -> None:
    log.info(
        "%d training / %d validation records; task %s with labels %s (training counts %s); "
        "model selection on validation %s",
        len(data.train), len(data.valid), data.task, list(data.encoder.labels),
        label_counts(data.train.labels), sel,
    )


def fit_member(
    arch_cls: Any,
    data: LabelledData,
    cfg: TrainConfig,
    sel: str,
    dist_ctx: DistContext,
    device: Any,
    t_begin: float,
) -> tuple[Classifier, FitResult]:
    """A new classifier of ``arch_cls`` fitted on ``data`` (torch loop or one sklearn fit), its
    metadata recorded; writes no bundle (``cfg.output`` only names the torch checkpoint)."""
    lr = cfg.lr if cfg.lr is not None else float(getattr(arch_cls, "default_lr", DEFAULT_LR))
    model = _new_classifier(arch_cls, data, cfg, device)
    augment_rc = _augment_rc(cfg, model)
    weights = data.encoder.class_weights(data.y_train, cfg.class_weight)
    if dist_ctx.is_main:
        log.info(
            "arch %s (%s) on %s; tokenizer %s; %s", cfg.arch, model.kind, model.device, model.tokenizer.config(),
            "reverse-complement augmentation on" if augment_rc else "no reverse-complement augmentation",
        )
    if model.kind == "torch":
        fit = _fit_torch_model(model, data, cfg.replace(augment_rc=augment_rc, lr=lr), sel, weights, dist_ctx)
    else:
        fit = _fit_sklearn(model, data, sel, cfg.log if dist_ctx.is_main else None, t_begin, cfg.max_time)
    if cfg.test_time_rc:
        fit = read_both_strands(model, data, fit)
    training = _training_record(cfg.replace(augment_rc=augment_rc, lr=lr), weights, model.device, dist_ctx)
    record_metadata(model, data, sel, fit, training)
    return model, fit


def read_both_strands(model: Classifier, data: LabelledData, fit: FitResult) -> FitResult:
    """Switch ``model`` to test-time reverse-complement averaging (``strands = "both"``) and
    re-score the validation split that way, so the stored metrics describe what it predicts."""
    model.strands = check_strands("both", model.tokenizer)
    metrics = valid_metrics(model, data, model.predict_proba_sequences(data.valid.seqs, ids=data.valid.ids))
    log.info("%s reads both strands at test time: validation %s", model.arch, metrics)
    return replace(fit, best_metrics=metrics)


def valid_metrics(model: Classifier, data: LabelledData, probs: np.ndarray) -> dict[str, float | None]:
    """The validation metrics of ``model``'s probabilities ``(n_valid, C)`` on ``data.valid``
    (its own thresholds for multilabel; non-finite values as None, as bundles store them)."""
    thresholds = None if model.thresholds is None else np.asarray(model.thresholds)
    return {k: _finite(v) for k, v in validation_metrics(model.task, data.y_valid, probs, thresholds).items()}


def load_data(train_src: Any, valid_src: Any, cfg: TrainConfig) -> LabelledData:
    """Read the labelled sets, hold out validation when none is given, infer the task, encode targets."""
    train_src = rereadable(train_src)  # a generator of records is read once, into memory
    alpha = resolve_alphabet(train_src, cfg.alphabet, cfg.labels)
    train_set = load_labelled(train_src, alpha, cfg.labels)
    if valid_src is None:
        train_set, valid_set = stratified_split(train_set, VALID_FRACTION, cfg.seed)
    else:
        valid_set = load_labelled(valid_src, alpha, cfg.labels)
    task, label_names = infer_task(train_set.labels)
    if task != "multilabel" and any(len(x) > 1 for x in valid_set.labels):
        task = "multilabel"
    encoder = LabelEncoder(tuple(label_names), task)
    _check_labels_known(encoder, valid_set)
    y_train = encoder.encode(train_set.labels, train_set.ids, train_set.source)
    y_valid = encoder.encode(valid_set.labels, valid_set.ids, valid_set.source)
    return LabelledData(alpha, train_set, valid_set, task, encoder, y_train, y_valid)


def _check_labels_known(encoder: LabelEncoder, data: LabelledSet) -> None:
    known = set(encoder.labels)
    for rid, labs in zip(data.ids, data.labels, strict=True):
        unknown = [lab for lab in labs if lab not in known]
        if unknown:
            raise LabelError(
                f"validation label {unknown[0]!r} does not occur in the training data "
                f"(training labels: {', '.join(encoder.labels)})",
                path=None if data.source == RECORDS else data.source,
                record=rid,
            )


def _new_classifier(arch_cls: Any, data: LabelledData, cfg: TrainConfig, device: Any) -> Classifier:
    """An untrained classifier: the architecture's tokenizer and hyper-parameters with the user's overrides."""
    import torch

    encoder = load_init(cfg) if cfg.init is not None else None
    if encoder is not None:  # fine-tuning: the encoder's tokenizer and trunk hyper-parameters
        tokenizer = encoder.tokenizer
        hp = merge_hparams(arch_cls.name, encoder.hparams, cfg.hparams)
    else:
        tok_kwargs = dict(arch_cls.default_tokenizer(data.alphabet))
        for key in ("k", "stride", "canonical"):
            if getattr(cfg, key) is not None:
                tok_kwargs[key] = getattr(cfg, key)
        tokenizer = KmerTokenizer(alphabet=data.alphabet, **tok_kwargs)
        hp = resolve_hparams(arch_cls, data.alphabet, cfg.hparams)
    adapt = getattr(arch_cls, "adapt_hparams", None)  # data-dependent choices (cnn-lstm: head_norm auto)
    if adapt is not None:
        hp = adapt(hp, float(np.median([len(s) for s in data.train.seqs])))
    if "class_weight" in hp and "class_weight" not in (cfg.hparams or {}):
        hp["class_weight"] = cfg.class_weight  # an estimator that weights classes itself (kmer-linear)
    torch.manual_seed(cfg.seed)
    model = Classifier.create(cfg.arch, tokenizer, list(data.encoder.labels), data.task, hp, device="cpu")
    model.long_input = default_long_input(hp, model.kind, tokenizer, cfg.long_input)
    if encoder is not None:
        copy_trunk(model.net, encoder, cfg.init)
        model.metadata["init"] = init_record(encoder, cfg)
    return model.to(resolve_device(device))


def _augment_rc(cfg: TrainConfig, model: Classifier) -> bool:
    """Whether reverse-complement augmentation applies (asked for, nucleic acid, torch net)."""
    if not cfg.augment_rc:
        return False
    if not model.tokenizer.alphabet.has_complement:
        raise ConfigError(f"reverse-complement augmentation needs DNA/RNA; the data is {model.alphabet}")
    if model.kind != "torch":
        log.warning("reverse-complement augmentation applies to torch nets only; %s is fitted as is", model.arch)
        return False
    return True


def _encode_many(tokenizer: Any, seqs: list[str], ids: list[str]) -> list[np.ndarray]:
    """Unpadded token arrays for many sequences, encoded in length-sorted chunks so the
    padded intermediate stays small even for very uneven lengths."""
    order = np.argsort(np.fromiter(map(len, seqs), np.int64, len(seqs)), kind="stable")
    out: list[np.ndarray] = [None] * len(seqs)  # type: ignore[list-item]
    for start in range(0, len(order), ENCODE_CHUNK):
        idx = order[start : start + ENCODE_CHUNK]
        mat, lengths = tokenizer.encode_batch([seqs[i] for i in idx], ids=[ids[i] for i in idx])
        for row, i in enumerate(idx):
            out[i] = mat[row, : lengths[row]].copy()
    return out


def _fit_torch_model(
    model: Classifier, data: LabelledData, cfg: TrainConfig, sel: str, weights: np.ndarray | None, dist_ctx: DistContext
) -> FitResult:
    """Encode the data once, then run the loop (:func:`bioseq.training.loop.fit_torch`)."""
    tokenizer, train_set, valid_set = model.tokenizer, data.train, data.valid
    try:
        fwd = _encode_many(tokenizer, train_set.seqs, train_set.ids)
    except BioseqError as exc:  # the tokenizer knows the record, not the file
        raise exc.located(train_set.source) from None
    rc = None
    if cfg.augment_rc:
        rc_seqs = [tokenizer.alphabet.reverse_complement(s) for s in train_set.seqs]
        rc = _encode_many(tokenizer, rc_seqs, train_set.ids)
    v_tokens, v_owner = encode_pieces(model, valid_set.seqs, valid_set.ids)
    run_config = {
        "arch": cfg.arch,
        "tokenizer": tokenizer.config(),
        "hparams": model.hparams,
        "labels": model.labels,
        "task": model.task,
        "seed": cfg.seed,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "weight_decay": cfg.weight_decay,
        **({"label_smoothing": cfg.label_smoothing} if cfg.label_smoothing else {}),  # older checkpoints resume
        "augment_rc": cfg.augment_rc,
        "test_time_rc": cfg.test_time_rc,
        "class_weight": cfg.class_weight,
        "train_data": train_set.fingerprint,
        "valid_data": valid_set.fingerprint,
        "world_size": dist_ctx.world_size,
    }
    if cfg.init is not None:  # resuming must start from the same encoder, frozen the same way
        run_config["init"] = {k: model.metadata["init"][k] for k in ("fingerprint", "freeze_encoder", "unfreeze_after")}
    frozen_prefix, unfreeze_epoch = frozen_trunk(cfg)
    loop_cfg = LoopConfig(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        label_smoothing=cfg.label_smoothing,
        patience=cfg.patience,
        seed=cfg.seed,
        max_time_min=cfg.max_time,
        augment_rc=cfg.augment_rc,
        max_tokens=model.hparams.get("max_tokens"),
        metric=sel,
        progress=cfg.progress,
        frozen_prefix=frozen_prefix,
        unfreeze_epoch=unfreeze_epoch,
    )
    return fit_torch(
        model,
        TrainTensors(fwd, rc, data.y_train),
        ValidTensors(v_tokens, v_owner, data.y_valid, len(valid_set)),
        loop_cfg,
        class_weights=weights,
        log_path=cfg.log,
        checkpoint=None if cfg.output is None else checkpoint_path(cfg.output),
        resume=cfg.resume,
        run_config=run_config,
        dist_ctx=dist_ctx,
    )


def _fit_sklearn(
    model: Classifier, data: LabelledData, sel: str, log_path: Any, t_begin: float, max_time: float | None
) -> FitResult:
    """Fit a closed-form estimator (kmer-linear, esm-head) once; one history entry with the same keys
    as a torch epoch. ``max_time`` (minutes from ``t_begin``) reaches an estimator whose ``fit``
    takes a ``deadline``."""
    # The validation split chooses the estimator's regularisation when its fit takes ``valid``.
    params = inspect.signature(model.net.fit).parameters
    extra: dict[str, Any] = {"valid": (data.valid.seqs, data.y_valid)} if "valid" in params else {}
    if "deadline" in params and max_time is not None:  # esm-head's epochs, kmer-linear's C search
        extra["deadline"] = t_begin + max_time * 60.0  # time.monotonic() after which it stops
    model.net.fit(data.train.seqs, data.y_train, **extra)
    train_probs = model.predict_proba_sequences(data.train.seqs, ids=data.train.ids)
    probs = model.predict_proba_sequences(data.valid.seqs, ids=data.valid.ids)
    metrics = valid_metrics(model, data, probs)
    rec: dict[str, Any] = {
        "epoch": 1,
        "train_loss": validation_loss(model.task, data.y_train, train_probs),
        "valid_loss": validation_loss(model.task, data.y_valid, probs),
    }
    rec.update({f"valid_{k}": v for k, v in metrics.items()})
    rec.update(lr=None, elapsed_s=round(time.monotonic() - t_begin, 3), best=True)
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as fh:
            fh.write(json.dumps(rec) + "\n")
    log.info("fitted %s: validation %s %s", model.arch, sel, metrics.get(sel))
    return FitResult(history=[rec], best_epoch=1, best_metrics=metrics, stopped="fitted")


def _training_record(
    cfg: TrainConfig, weights: np.ndarray | None, device: Any, dist_ctx: DistContext
) -> dict[str, Any]:
    """The ``training`` entry of the bundle: how the model was trained."""
    return {
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "weight_decay": cfg.weight_decay,
        "label_smoothing": cfg.label_smoothing,
        "seed": cfg.seed,
        "patience": cfg.patience,
        "max_time_min": cfg.max_time,
        "augment_rc": cfg.augment_rc,
        "test_time_rc": cfg.test_time_rc,
        "class_weight": cfg.class_weight,
        "class_weights": None if weights is None else weights.tolist(),
        "device": str(device),
        "world_size": dist_ctx.world_size,
        "optimizer": "AdamW",
        "schedule": "linear warm-up (5%) + cosine to 5%",
        "clip_grad_norm": 1.0,
        **({} if cfg.init is None else {"freeze_encoder": cfg.freeze_encoder, "unfreeze_after": cfg.unfreeze_after}),
    }


def record_metadata(model: Classifier, data: LabelledData, sel: str, fit: FitResult, training: dict[str, Any]) -> None:
    model.metadata.update(
        data_fingerprint={
            "train": data.train.fingerprint,
            "valid": data.valid.fingerprint,
            "n_train": len(data.train),
            "n_valid": len(data.valid),
            "train_source": data.train.source,
            "valid_source": data.valid.source,
        },
        label_counts=label_counts(data.train.labels),
        train_lengths=length_summary(data.train.seqs),
        selection_metric=sel,
        metrics=fit.best_metrics,
        best_epoch=fit.best_epoch,
        stopped=fit.stopped,
        history=fit.history,
        training=training,
    )
    model.refresh_fingerprint()
