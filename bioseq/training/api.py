"""``bioseq.train``: labelled sequences in, a trained :class:`~bioseq.models.model.Model` out.

Choices made for the user, each logged (logger ``bioseq.training``):

* alphabet: inferred from the first records when not given (ACGT(N) -> dna,
  ACGU(N) -> rna, else protein);
* task: any record with several labels -> multilabel; two classes -> binary;
  more -> multiclass (:mod:`bioseq.training.labels`);
* validation: without a validation file, a seeded stratified 10 % of the
  training records is held out;
* selection metric: MCC (single-label) or macro-AUPRC (multilabel);
* class imbalance: "balanced" loss weights (``pos_weight`` for multilabel);
* DNA/RNA: reverse-complement augmentation on by default;
* device: CUDA with bf16 autocast when available, else CPU float32.

The kmer-linear baseline goes through the same function: it is fitted once on
the training set, scored on the validation set, and saved in the same bundle
format.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bioseq.errors import BioseqError, ConfigError, LabelError

log = logging.getLogger("bioseq.training")

# Small labelled sets (a few thousand sequences) need tens of epochs; early
# stopping ends most runs well before DEFAULT_EPOCHS (measured on splice_uci:
# best validation MCC after ~40 epochs at the cnn-lstm's lr of 3e-3).
DEFAULT_EPOCHS = 50
DEFAULT_LR = 1e-3  # for architectures that declare no `default_lr`
DEFAULT_PATIENCE = 10
VALID_FRACTION = 0.1
ENCODE_CHUNK = 2048


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


def _check_labels_known(encoder: Any, data: Any) -> None:
    known = set(encoder.labels)
    for rid, labs in zip(data.ids, data.labels, strict=True):
        unknown = [lab for lab in labs if lab not in known]
        if unknown:
            raise LabelError(
                f"validation label {unknown[0]!r} does not occur in the training data "
                f"(training labels: {', '.join(encoder.labels)})",
                path=None if data.source == "<records>" else data.source,
                record=rid,
            )


def train(
    train: Any,
    valid: Any = None,
    arch: str = "cnn-lstm",
    *,
    alphabet: str | None = None,
    k: int | None = None,
    stride: int | None = None,
    canonical: bool | None = None,
    labels: Any = None,
    hparams: Mapping[str, Any] | None = None,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = 64,
    lr: float | None = None,
    max_time: float | None = None,
    seed: int = 0,
    patience: int | None = DEFAULT_PATIENCE,
    output: str | os.PathLike[str] | None = None,
    log: str | os.PathLike[str] | None = None,
    resume: bool = False,
    threads: int | None = None,
    device: str = "auto",
    augment_rc: bool | None = None,
    class_weight: str | None = "balanced",
    metric: str = "auto",
    weight_decay: float = 0.01,
    long_input: str = "windows",
    progress: bool | None = None,
    distributed: bool = False,
) -> Any:
    """Train a classifier and (with ``output``) write its bundle.

    Args:
        train: labelled training data: a path, a list of paths, ``"-"``, or an
            iterable of ``SequenceItem`` (``id``, ``seq``, ``labels``).
        valid: validation data in the same forms; None holds out a seeded,
            stratified 10 % of ``train``.
        arch: architecture name in :data:`bioseq.models.registry.MODELS`
            (``cnn-lstm``, ``transformer``, ``kmer-linear``, or a plugin's).
        alphabet: ``dna`` | ``rna`` | ``protein``; None infers it.
        k, stride, canonical: tokenizer overrides of the architecture's defaults.
        labels: label source for the reader (table path, dict, ``"filename"``);
            None reads ``label=`` tokens from FASTA headers.
        hparams: overrides of the architecture's hyper-parameters.
        epochs, batch_size, lr, weight_decay: optimisation (AdamW; warm-up + cosine LR);
            ``lr=None`` takes the architecture's ``default_lr`` (else 1e-3).
        max_time: wall-clock budget of this call in **minutes**; training stops
            when it is spent, keeping the best weights so far.
        seed: seeds initialisation, the split, batch order, augmentation and
            dropout; CPU runs with one seed are bit-reproducible.
        patience: epochs without validation improvement before stopping (None: never).
        output: bundle path (``.safetensors``); its checkpoint is ``<output stem>.ckpt``.
        log: JSON-lines epoch log path.
        resume: continue from the checkpoint beside ``output``.
        threads: CPU threads for torch (None: torch's default).
        device: ``auto`` | ``cpu`` | ``cuda``.
        augment_rc: random reverse-complement strand per sample and epoch, for
            strand-symmetric tasks (e.g. ChIP peaks); None/False: off, since the strand
            is informative in oriented data (splice sites, promoters).
        class_weight: ``"balanced"`` or None.
        metric: early-stopping metric; ``auto``: ``mcc`` / ``macro_auprc`` (multilabel).
        long_input: prediction-time policy for inputs over ``max_tokens``:
            ``windows`` | ``center`` | ``truncate``.
        progress: tqdm bar on stderr; None: only when stderr is a terminal.
        distributed: join the torchrun process group (DDP); see
            :mod:`bioseq.training.distributed`.

    Returns:
        The trained :class:`~bioseq.models.model.Model` (best validation weights).
    """
    if distributed:
        from bioseq.training.distributed import process_group

        ctx: Any = process_group(device)
    else:
        ctx = contextlib.nullcontext(None)
    with ctx as group:
        dist_ctx, dev = group if group is not None else (None, device)
        return _train(
            train,
            valid,
            arch,
            alphabet=alphabet,
            k=k,
            stride=stride,
            canonical=canonical,
            labels=labels,
            hparams=hparams,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            max_time=max_time,
            seed=seed,
            patience=patience,
            output=output,
            log_path=log,
            resume=resume,
            threads=threads,
            device=dev,
            augment_rc=augment_rc,
            class_weight=class_weight,
            metric=metric,
            weight_decay=weight_decay,
            long_input=long_input,
            progress=progress,
            dist_ctx=dist_ctx,
        )


def _train(
    train_src: Any,
    valid_src: Any,
    arch: str,
    *,
    alphabet,
    k,
    stride,
    canonical,
    labels,
    hparams,
    epochs,
    batch_size,
    lr,
    max_time,
    seed,
    patience,
    output,
    log_path,
    resume,
    threads,
    device,
    augment_rc,
    class_weight,
    metric,
    weight_decay,
    long_input,
    progress,
    dist_ctx,
) -> Any:
    import torch

    from bioseq.device import resolve_device, set_threads
    from bioseq.evaluate.metrics import selection_metric, validation_metrics
    from bioseq.models.model import Model, default_long_input, get_arch
    from bioseq.models.registry import resolve_hparams
    from bioseq.tokenize.kmer import KmerTokenizer
    from bioseq.training.data import load_labelled, resolve_alphabet, stratified_split
    from bioseq.training.labels import LabelEncoder, infer_task, label_counts
    from bioseq.training.loop import DistContext, LoopConfig, TrainTensors, ValidTensors, fit_torch

    t_begin = time.monotonic()
    dist_ctx = dist_ctx or DistContext()
    arch_cls = get_arch(arch)
    if lr is None:
        lr = float(getattr(arch_cls, "default_lr", DEFAULT_LR))
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ConfigError(f"need epochs >= 1, batch_size >= 1 and lr > 0 (got {epochs}, {batch_size}, {lr})")
    if max_time is not None and max_time <= 0:
        raise ConfigError(f"max_time must be > 0 minutes, got {max_time}")
    if resume and output is None:
        raise ConfigError("resume needs an output path: the checkpoint lives beside the bundle")
    set_threads(threads)
    resolve_hparams(arch_cls, alphabet or "dna", hparams)  # fail fast on an unknown key, before reading data

    # ---- data
    alpha = resolve_alphabet(train_src, alphabet, labels)
    train_set = load_labelled(train_src, alpha, labels)
    if valid_src is None:
        train_set, valid_set = stratified_split(train_set, VALID_FRACTION, seed)
    else:
        valid_set = load_labelled(valid_src, alpha, labels)
    task, label_names = infer_task(train_set.labels)
    if task != "multilabel" and any(len(x) > 1 for x in valid_set.labels):
        task = "multilabel"
    encoder = LabelEncoder(tuple(label_names), task)
    _check_labels_known(encoder, valid_set)
    y_train = encoder.encode(train_set.labels, train_set.ids, train_set.source)
    y_valid = encoder.encode(valid_set.labels, valid_set.ids, valid_set.source)
    sel = selection_metric(task, metric)
    counts = label_counts(train_set.labels)
    if dist_ctx.is_main:
        log.info(
            "%d training / %d validation records; task %s with labels %s (training counts %s); "
            "model selection on validation %s",
            len(train_set),
            len(valid_set),
            task,
            label_names,
            counts,
            sel,
        )

    # ---- tokenizer, model
    tok_kwargs = dict(arch_cls.default_tokenizer(alpha))
    for key, value in (("k", k), ("stride", stride), ("canonical", canonical)):
        if value is not None:
            tok_kwargs[key] = value
    tokenizer = KmerTokenizer(alphabet=alpha, **tok_kwargs)
    hp = resolve_hparams(arch_cls, alpha, hparams)
    if "class_weight" in hp and "class_weight" not in (hparams or {}):
        hp["class_weight"] = class_weight  # an estimator that weights classes itself (kmer-linear)
    dev = resolve_device(device)
    torch.manual_seed(seed)
    model = Model.create(arch, tokenizer, label_names, task, hp, device="cpu")
    model.long_input = default_long_input(hp, model.kind, tokenizer, long_input)
    model.to(dev)
    nucleic = tokenizer.alphabet.has_complement
    if augment_rc is None:
        # Off unless asked: most labelled sets (splice sites, promoters, UTRs) are
        # given in transcript orientation, where the strand is part of the signal
        # (measured on splice_uci: validation MCC 0.49 without, 0.39 with).
        augment_rc = False
    elif augment_rc and not nucleic:
        raise ConfigError(f"reverse-complement augmentation needs DNA/RNA; the data is {alpha}")
    elif augment_rc and model.kind != "torch":
        log.warning("reverse-complement augmentation applies to torch nets only; %s is fitted as is", arch)
        augment_rc = False
    weights = encoder.class_weights(y_train, class_weight)
    training = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "seed": seed,
        "patience": patience,
        "max_time_min": max_time,
        "augment_rc": bool(augment_rc),
        "class_weight": class_weight,
        "class_weights": None if weights is None else weights.tolist(),
        "device": str(dev),
        "world_size": dist_ctx.world_size,
        "optimizer": "AdamW",
        "schedule": "linear warm-up (5%) + cosine to 5%",
        "clip_grad_norm": 1.0,
    }
    if dist_ctx.is_main:
        log.info(
            "arch %s (%s) on %s; tokenizer %s; %s",
            arch,
            model.kind,
            dev,
            tokenizer.config(),
            "reverse-complement augmentation on" if augment_rc else "no reverse-complement augmentation",
        )

    # ---- fit
    if model.kind == "torch":
        t_enc = time.monotonic()
        try:
            fwd = _encode_many(tokenizer, train_set.seqs, train_set.ids)
        except BioseqError as exc:  # the tokenizer knows the record, not the file
            raise exc.located(train_set.source) from None
        rc = None
        if augment_rc:
            rc = _encode_many(tokenizer, [tokenizer.reverse_complement(s) for s in train_set.seqs], train_set.ids)
        v_tokens, v_owner = model._encode_pieces(valid_set.seqs, valid_set.ids)
        log.debug("encoded the data in %.2f s", time.monotonic() - t_enc)
        run_config = {
            "arch": arch,
            "tokenizer": tokenizer.config(),
            "hparams": hp,
            "labels": label_names,
            "task": task,
            "seed": seed,
            "batch_size": batch_size,
            "lr": lr,
            "weight_decay": weight_decay,
            "augment_rc": bool(augment_rc),
            "class_weight": class_weight,
            "train_data": train_set.fingerprint,
            "valid_data": valid_set.fingerprint,
            "world_size": dist_ctx.world_size,
        }
        ckpt = None
        if output is not None:
            from bioseq.training.checkpoint import checkpoint_path

            ckpt = checkpoint_path(output)
        cfg = LoopConfig(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            patience=patience,
            seed=seed,
            max_time_min=max_time,
            augment_rc=bool(augment_rc),
            max_tokens=hp.get("max_tokens"),
            metric=sel,
            progress=progress,
        )
        result = fit_torch(
            model,
            TrainTensors(fwd, rc, y_train),
            ValidTensors(v_tokens, v_owner, y_valid, len(valid_set)),
            cfg,
            class_weights=weights,
            log_path=log_path,
            checkpoint=ckpt,
            resume=resume,
            run_config=run_config,
            dist_ctx=dist_ctx,
        )
        history, best_metrics, best_epoch, stopped = (
            result.history,
            result.best_metrics,
            result.best_epoch,
            result.stopped,
        )
    else:
        history, best_metrics = _fit_sklearn(
            model,
            train_set,
            y_train,
            valid_set,
            y_valid,
            sel,
            log_path,
            dist_ctx.is_main,
            t_begin,
            validation_metrics,
        )
        best_epoch, stopped = 1, "fitted"

    model.metadata.update(
        data_fingerprint={
            "train": train_set.fingerprint,
            "valid": valid_set.fingerprint,
            "n_train": len(train_set),
            "n_valid": len(valid_set),
            "train_source": train_set.source,
            "valid_source": valid_set.source,
        },
        label_counts=counts,
        selection_metric=sel,
        metrics=best_metrics,
        best_epoch=best_epoch,
        stopped=stopped,
        history=history,
        training=training,
    )
    model.refresh_fingerprint()
    if output is not None and dist_ctx.is_main:
        model.save(output)
        log.info("wrote %s (validation %s %s)", output, sel, best_metrics.get(sel))
    return model


def _fit_sklearn(
    model: Any,
    train_set: Any,
    y_train: np.ndarray,
    valid_set: Any,
    y_valid: np.ndarray,
    sel: str,
    log_path: Any,
    is_main: bool,
    t_begin: float,
    compute_metrics: Any,
) -> tuple[list[dict], dict]:
    """Fit the kmer-linear baseline once; one history entry with the same keys as a torch epoch."""
    from bioseq.training.loop import _finite, validation_loss

    model.net.fit(train_set.seqs, y_train)
    train_probs = model.predict_proba_sequences(train_set.seqs, ids=train_set.ids)
    probs = model.predict_proba_sequences(valid_set.seqs, ids=valid_set.ids)
    metrics = {
        k: _finite(v)
        for k, v in compute_metrics(
            model.task, y_valid, probs, None if model.thresholds is None else np.asarray(model.thresholds)
        ).items()
    }
    rec: dict[str, Any] = {
        "epoch": 1,
        "train_loss": validation_loss(model.task, y_train, train_probs),
        "valid_loss": validation_loss(model.task, y_valid, probs),
    }
    rec.update({f"valid_{k}": v for k, v in metrics.items()})
    rec.update(lr=None, elapsed_s=round(time.monotonic() - t_begin, 3), best=True)
    if log_path is not None and is_main:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as fh:
            fh.write(json.dumps(rec) + "\n")
    log.info("fitted %s: validation %s %s", model.arch, sel, metrics.get(sel))
    return [rec], metrics
