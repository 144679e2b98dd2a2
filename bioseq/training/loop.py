"""The training loop for torch nets.

One epoch: length-bucketed, shuffled batches (:class:`LengthBucketSampler`;
disjoint per DDP rank) of pre-encoded token arrays; for DNA/RNA each sample
takes the forward or reverse-complement strand at random (both were encoded
once, before the first epoch); a sample longer than ``max_tokens`` is cut to a
random window (:func:`bioseq.data.windows.random_crop`, applied to the token
array: the same as cropping the sequence at a stride-aligned start). AdamW,
linear warm-up then cosine decay of the learning rate, gradient-norm clipping,
class-weighted loss. After each epoch the validation set is scored exactly as
``bioseq predict`` would score it (long inputs: windows, probabilities
averaged), metrics are logged (JSON lines), early stopping keeps the best
weights, and a checkpoint is written.

Reproducibility: every random choice of epoch ``e`` (batch order, strands,
crops, dropout) is drawn from generators seeded by ``(seed, e, rank)``, so a
run resumed from a checkpoint continues exactly like an uninterrupted run, and
two CPU runs with the same seed give bit-identical weights.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from bioseq.data.batching import LengthBucketSampler, collate
from bioseq.data.windows import aggregate, random_crop
from bioseq.device import autocast
from bioseq.evaluate.metrics import validation_metrics
from bioseq.models.inference import piece_outputs
from bioseq.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from bioseq.training.early_stopping import EarlyStopping

log = logging.getLogger("bioseq.training")


LOSS_METRIC = "loss"  # LoopConfig.metric that selects on the (lowest) validation loss itself


@dataclass
class LoopConfig:
    """Optimisation settings (units in the names: ``max_time_min`` minutes)."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.0  # TrainConfig.label_smoothing
    warmup_frac: float = 0.05  # of all steps
    min_lr_frac: float = 0.05  # cosine decays to this fraction of lr
    clip_norm: float = 1.0
    patience: int | None = 5
    seed: int = 0
    max_time_min: float | None = None
    augment_rc: bool = False
    max_tokens: int | None = None
    metric: str = "mcc"
    progress: bool | None = None  # None: a bar only when stderr is a terminal
    frozen_prefix: str | None = None  # parameters frozen (fine-tuning: "trunk.")...
    unfreeze_epoch: int | None = None  # ...until this 0-based epoch (None: all run)


@dataclass
class DistContext:
    """This process's place in a DDP job (``world_size == 1``: no DDP)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


@dataclass
class TrainTensors:
    """Pre-encoded training data.

    Attributes:
        tokens: forward-strand token arrays (unpadded), one per record.
        rc_tokens: reverse-complement token arrays, or None (no RC augmentation).
        y: int64 ``(n,)`` class ids or float32 ``(n, C)`` multi-hot.
    """

    tokens: list[np.ndarray]
    rc_tokens: list[np.ndarray] | None
    y: np.ndarray | None = None  # None: self-supervised (the targets come from the tokens)


@dataclass
class ValidTensors:
    """Pre-encoded validation pieces (windows) and the record each belongs to."""

    tokens: list[np.ndarray]
    owner: np.ndarray
    y: np.ndarray | None
    n: int


@dataclass
class FitResult:
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)
    stopped: str = "epochs"  # epochs | early_stopping | max_time


def _seed_for(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def lr_lambda_factory(
    total_steps: int,
    warmup_steps: int,
    min_frac: float,
    time_fraction: Callable[[], float] | None = None,
    warmup_frac: float = 0.0,
):
    """Multiplier of the base LR at step ``s``: linear warm-up, then cosine to ``min_frac``.

    With ``time_fraction`` (the share of a wall-clock budget used so far) the
    cosine follows whichever runs out first, the steps or the time: a run cut
    short by ``max_time`` still anneals its learning rate instead of stopping at
    the peak (measured on enhancers: a Transformer stopped by a 2.5-minute
    budget after 10 of 50 epochs had never left the peak learning rate).

    The warm-up, too, ends at ``warmup_frac`` of the budget when that comes
    before ``warmup_steps`` (measured on 3,000 deeploc proteins: the warm-up,
    5 % of 50 epochs' steps, took 2.5 of the 6 epochs a 4-minute budget
    allowed; on the full set it outlasted a 3-minute budget).
    """

    def fn(step: int) -> float:
        warm = (step + 1) / warmup_steps
        if time_fraction is not None and warmup_frac > 0:
            warm = max(warm, time_fraction() / warmup_frac)
        if warm < 1.0:
            return warm
        progress = max(0.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        if time_fraction is not None:
            progress = max(progress, (time_fraction() - warmup_frac) / (1.0 - warmup_frac))
        progress = min(1.0, progress)
        return min_frac + (1.0 - min_frac) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return fn


class _EpochLog:
    """JSON-lines epoch log (rank 0 only); rewritten from the history on resume."""

    def __init__(self, path: str | Path | None, history: list[dict[str, Any]], enabled: bool) -> None:
        self.path = Path(path) if (path and enabled) else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "w") as fh:
                for rec in history:
                    fh.write(json.dumps(rec) + "\n")

    def write(self, rec: dict[str, Any]) -> None:
        if self.path is not None:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(rec) + "\n")


def classification_loss(task: str, class_weights: torch.Tensor | None, smoothing: float = 0.0):
    """The training loss: weighted cross-entropy with ``smoothing`` of the targets (multilabel:
    BCE per label, each 0/1 target moved ``smoothing`` of the way to 1/2)."""
    if task == "multilabel":
        return lambda logits, y: F.binary_cross_entropy_with_logits(
            logits, y * (1.0 - smoothing) + smoothing / 2, pos_weight=class_weights
        )
    return lambda logits, y: F.cross_entropy(logits, y, weight=class_weights, label_smoothing=smoothing)


def validation_loss(task: str, y: np.ndarray, probs: np.ndarray) -> float:
    """Unweighted cross-entropy (or mean BCE) of aggregated probabilities."""
    p = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)
    if task == "multilabel":
        return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
    return float(-np.log(p[np.arange(len(y)), y]).mean())


def _gather(obj: Any, dist_ctx: DistContext) -> list[Any]:
    if not dist_ctx.active:
        return [obj]
    out: list[Any] = [None] * dist_ctx.world_size
    torch.distributed.all_gather_object(out, obj)
    return out


def score_validation(model: Any, valid: ValidTensors, batch_size: int, dist_ctx: DistContext) -> np.ndarray:
    """Probabilities ``(n_valid, C)`` of the validation records, scored exactly as
    ``bioseq predict`` scores them (:func:`bioseq.models.inference.piece_outputs`;
    windows averaged); the pieces are sharded over DDP ranks and gathered."""
    idx = np.arange(len(valid.tokens))[dist_ctx.rank :: dist_ctx.world_size]
    part = (
        piece_outputs(model, [valid.tokens[i] for i in idx], "probs", batch_size)
        if len(idx)
        else np.zeros((0, model.n_classes), np.float32)
    )
    pieces = np.zeros((len(valid.tokens), model.n_classes), np.float64)
    for ix, vals in _gather((idx, part), dist_ctx):
        pieces[ix] = vals
    return aggregate(pieces, valid.owner, valid.n)


class ClassifierObjective:
    """What the loop optimises and scores for a classifier: (class-weighted) cross-entropy or BCE
    of the logits ``(B, C)`` against the labels, validation as ``bioseq predict`` scores.

    The loop asks any objective for two things (:mod:`bioseq.training.pretrain` has the
    masked-token one): ``batch_loss(runner, toks, batch, rng) -> scalar tensor`` for the token
    arrays ``toks`` of the training records ``batch``, and ``evaluate(model, valid, batch_size,
    dist_ctx) -> (valid_loss, metrics)``; ``metric`` names the entry of ``metrics`` that early
    stopping maximises, ``task`` is logged.
    """

    def __init__(
        self, model: Any, y: np.ndarray, class_weights: np.ndarray | None, metric: str, label_smoothing: float = 0.0
    ) -> None:
        device = model.device
        weights = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32, device=device)
        self.task, self.metric = model.task, metric
        self.loss_fn = classification_loss(model.task, weights, label_smoothing)
        self.y_all = torch.from_numpy(y)
        self.device = device

    def batch_loss(self, runner: torch.nn.Module, toks: list[np.ndarray], batch: list[int], rng: Any) -> torch.Tensor:
        ids, mask = collate(toks)
        with autocast(self.device):
            logits = runner(ids.to(self.device), mask.to(self.device))
        return self.loss_fn(logits.float(), self.y_all[batch].to(self.device))

    def evaluate(
        self, model: Any, valid: ValidTensors, batch_size: int, dist_ctx: DistContext
    ) -> tuple[float, dict[str, float]]:
        probs = score_validation(model, valid, batch_size, dist_ctx)
        thresholds = model.thresholds and np.asarray(model.thresholds)
        return validation_loss(model.task, valid.y, probs), validation_metrics(model.task, valid.y, probs, thresholds)


@dataclass
class _Run:
    """Everything one ``fit_torch`` call trains with (built by :func:`_start_run`)."""

    net: torch.nn.Module
    runner: torch.nn.Module  # the net, or its DDP wrapper
    device: torch.device
    sampler: LengthBucketSampler
    optimizer: torch.optim.Optimizer
    scheduler: Any
    objective: Any  # ClassifierObjective or another with the same two methods
    early: EarlyStopping
    budget_s: float | None
    t_start: float

    def out_of_time(self, dist_ctx: DistContext) -> bool:
        over = self.budget_s is not None and time.monotonic() - self.t_start > self.budget_s
        return self.budget_s is not None and _any_rank(over, dist_ctx, self.device)


def _start_run(model: Any, train: TrainTensors, cfg: LoopConfig, objective: Any, dist_ctx: DistContext) -> _Run:
    """Net on its device (DDP-wrapped when distributed), sampler, AdamW and its schedule."""
    device, net = model.device, model.net
    net.to(device)
    set_trainable(net, cfg, 0)  # before DDP records which parameters take gradients
    runner = net
    if dist_ctx.active:
        from torch.nn.parallel import DistributedDataParallel

        runner = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    lengths = np.fromiter((len(t) for t in train.tokens), np.int64, len(train.tokens))
    sampler = LengthBucketSampler(
        lengths, cfg.batch_size, shuffle=True, seed=cfg.seed, rank=dist_ctx.rank, world_size=dist_ctx.world_size
    )
    total_steps = max(1, len(sampler)) * max(1, cfg.epochs)
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # max_time is the budget of this invocation (a resumed run gets a fresh one);
    # elapsed_s in the log counts the whole run across resumptions.
    budget = None if cfg.max_time_min is None else cfg.max_time_min * 60.0
    t_start = time.monotonic()
    # The time-aware schedule is for single-process runs: DDP ranks must apply
    # identical learning rates, and their clocks differ.
    time_fraction = (
        (lambda: (time.monotonic() - t_start) / budget) if budget is not None and dist_ctx.world_size == 1 else None
    )
    warmup = max(1, int(cfg.warmup_frac * total_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda_factory(total_steps, warmup, cfg.min_lr_frac, time_fraction, cfg.warmup_frac)
    )
    return _Run(
        net, runner, device, sampler, optimizer, scheduler, objective, EarlyStopping(cfg.patience), budget, t_start
    )


def set_trainable(net: torch.nn.Module, cfg: LoopConfig, epoch: int) -> None:
    """Freeze the parameters under ``cfg.frozen_prefix`` (a pretrained trunk) before epoch
    ``cfg.unfreeze_epoch`` (None: for the whole run), train them from then on.

    Frozen parameters get no gradient, so AdamW (weight decay included) leaves them
    exactly as they were. A function of the epoch alone, so a resumed run freezes the same.
    """
    if not cfg.frozen_prefix:
        return
    frozen = cfg.unfreeze_epoch is None or epoch < cfg.unfreeze_epoch
    for name, param in net.named_parameters():
        if name.startswith(cfg.frozen_prefix):
            param.requires_grad_(not frozen)


def _resume(run: _Run, ckpt: Path, run_config: dict[str, Any] | None, result: FitResult) -> tuple[int, float]:
    """Restore a checkpoint into ``run`` and ``result``; return ``(epochs done, seconds spent)``."""
    state = load_checkpoint(ckpt, run_config)
    run.net.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.early.load_state_dict(state["early_stopping"], state["best_model"] or None)
    set_rng_state(state["rng"])
    result.history = list(state["history"])
    log.info("resuming from %s after epoch %d", ckpt, int(state["epoch"]))
    return int(state["epoch"]), float(state["elapsed_s"])


def _batch_tokens(batch: list[int], train: TrainTensors, cfg: LoopConfig, rng: np.random.Generator) -> list:
    """The token arrays of one batch: a random strand per sample (with RC augmentation) and a
    random crop of samples longer than ``max_tokens``."""
    toks = []
    for i in batch:
        use_rc = train.rc_tokens is not None and rng.random() < 0.5
        t = train.rc_tokens[i] if use_rc else train.tokens[i]
        if cfg.max_tokens and len(t) > cfg.max_tokens:
            t = random_crop(t, cfg.max_tokens, rng)
        toks.append(t)
    return toks


def _train_epoch(
    run: _Run, train: TrainTensors, cfg: LoopConfig, epoch: int, dist_ctx: DistContext
) -> tuple[float, int, bool]:
    """One pass over this rank's batches; returns ``(mean train loss over all ranks, steps, out of time)``."""
    torch.manual_seed(_seed_for(cfg.seed, epoch, dist_ctx.rank, 1))
    rng = np.random.default_rng([cfg.seed, epoch, dist_ctx.rank, 2])
    run.sampler.set_epoch(epoch)
    set_trainable(run.net, cfg, epoch)
    run.net.train()
    loss_sum, n_seen, steps, out_of_time = 0.0, 0, 0, False
    bar = tqdm(
        total=max(1, len(run.sampler)),
        desc=f"epoch {epoch + 1}/{cfg.epochs}",
        unit="batch",
        leave=False,
        file=sys.stderr,
        disable=(not dist_ctx.is_main) or (None if cfg.progress is None else not cfg.progress),
    )
    for batch in run.sampler:
        loss = run.objective.batch_loss(run.runner, _batch_tokens(batch, train, cfg, rng), batch, rng)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip_norm:
            torch.nn.utils.clip_grad_norm_(run.net.parameters(), cfg.clip_norm)
        run.optimizer.step()
        run.scheduler.step()
        loss_sum += float(loss.detach()) * len(batch)
        n_seen += len(batch)
        steps += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss_sum / n_seen:.4f}", refresh=False)
        if run.out_of_time(dist_ctx):
            out_of_time = True
            break
    bar.close()
    sums = _sum_ranks([loss_sum, float(n_seen)], dist_ctx, run.device)
    return sums[0] / max(1.0, sums[1]), steps, out_of_time


BN_RECALIBRATION_BATCHES = 32


def recalibrate_batchnorm(run: _Run, train: TrainTensors, cfg: LoopConfig, epoch: int) -> None:
    """Recompute the running statistics of the net's BatchNorm layers (if any) from the current weights.

    During training they are a moving average over past weights, which lags:
    a protein CNN-LSTM's pooled features (``head_norm: batch``) drift by
    several of their own standard deviations within the ~10 steps that
    momentum 0.1 averages over. Dropout before the pooling also shifts the
    features seen in training away from those scored (the max of a
    dropped-out, rescaled sequence is larger), so the pass runs with dropout
    off. On the long-protein toy of the tests, validation MCC per epoch was
    0, 0, 0.09, 0.13 with the training averages and 0.98, 1, 1, 1 with exact
    statistics (scored on the whole validation set as one batch: 1.0). This
    forward-only pass over up to
    :data:`BN_RECALIBRATION_BATCHES` training batches (cumulative average, no
    gradients, seeded by ``(seed, epoch)``) makes them exact, as "precise BN"
    does (Wu & Johnson 2021).
    """
    norms = [m for m in run.net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the passes below
    rng = np.random.default_rng([cfg.seed, epoch, 3])
    run.sampler.set_epoch(epoch)
    run.net.eval()  # no dropout: the statistics are those of the features the net is scored on
    for m in norms:
        m.train()
    with torch.no_grad():
        for i, batch in enumerate(run.sampler):
            if i == BN_RECALIBRATION_BATCHES:
                break
            ids, mask = collate(_batch_tokens(batch, train, cfg, rng))
            with autocast(run.device):
                run.net(ids.to(run.device), mask.to(run.device))
    for m, momentum in zip(norms, saved, strict=True):
        m.momentum = momentum


def _validate_epoch(
    model: Any, run: _Run, valid: ValidTensors, cfg: LoopConfig, epoch: int, train_loss: float, t0: float,
    dist_ctx: DistContext,
) -> dict[str, Any]:
    """Score the validation set, step early stopping, and return the epoch's log record."""
    valid_loss, metrics = run.objective.evaluate(model, valid, max(cfg.batch_size, 256), dist_ctx)
    score = -valid_loss if cfg.metric == LOSS_METRIC else metrics.get(cfg.metric, float("nan"))
    improved = run.early.step(epoch + 1, score, valid_loss, run.net.state_dict())
    rec: dict[str, Any] = {"epoch": epoch + 1, "train_loss": train_loss, "valid_loss": valid_loss}
    rec.update({f"valid_{k}": _finite(v) for k, v in metrics.items()})
    rec.update(lr=run.scheduler.get_last_lr()[0], elapsed_s=round(time.monotonic() - t0, 3), best=improved)
    if dist_ctx.is_main:
        log.info(
            "epoch %d/%d: train_loss %.4f valid_loss %.4f%s%s",
            epoch + 1, cfg.epochs, train_loss, valid_loss,
            "".join(f" valid_{k} {v:.4f}" for k, v in metrics.items() if k == cfg.metric or cfg.metric == LOSS_METRIC),
            " (best)" if improved else "",
        )
    return rec


def _save_checkpoint(run: _Run, ckpt: Path, result: FitResult, epoch: int, elapsed_s: float, run_config: Any) -> None:
    save_checkpoint(
        ckpt,
        {
            "model": run.net.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "early_stopping": run.early.state_dict(),
            "best_model": run.early.best_state or {},
            "rng": rng_state(),
            "history": result.history,
            "epoch": epoch,
            "elapsed_s": elapsed_s,
            "config": run_config or {},
        },
    )


def fit_torch(
    model: Any,
    train: TrainTensors,
    valid: ValidTensors,
    cfg: LoopConfig,
    *,
    class_weights: np.ndarray | None = None,
    log_path: str | Path | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    run_config: dict[str, Any] | None = None,
    dist_ctx: DistContext | None = None,
    objective: Any = None,
) -> FitResult:
    """Train ``model.net`` in place; on return it holds the best weights.

    Args:
        model: a :class:`bioseq.models.classifier.Classifier` of kind ``torch`` (or, with
            ``objective``, anything with ``net`` and ``device``: a pretrained encoder).
        train, valid: pre-encoded data (see :class:`TrainTensors`, :class:`ValidTensors`).
        cfg: optimisation settings.
        class_weights: ``(C,)`` CE class weights or BCE ``pos_weight``; None: unweighted.
        objective: loss and validation (None: :class:`ClassifierObjective` of ``model``).
        log_path: JSON-lines epoch log (rank 0 writes).
        checkpoint: checkpoint file (rank 0 writes after every epoch; None: none).
        resume: continue from ``checkpoint`` when it exists.
        run_config: identifies the run; a checkpoint of another run is refused.
        dist_ctx: DDP rank/world size (the process group must be initialised).
    """
    dist_ctx = dist_ctx or DistContext()
    if objective is None:
        objective = ClassifierObjective(model, train.y, class_weights, cfg.metric, cfg.label_smoothing)
    run = _start_run(model, train, cfg, objective, dist_ctx)
    result = FitResult()
    start_epoch, elapsed_before = 0, 0.0
    ckpt = Path(checkpoint) if checkpoint else None
    if resume and ckpt is not None and ckpt.exists():
        start_epoch, elapsed_before = _resume(run, ckpt, run_config, result)
    elif resume and dist_ctx.is_main:
        log.info("--resume: no checkpoint at %s, starting from scratch", ckpt)
    epoch_log = _EpochLog(log_path, result.history, dist_ctx.is_main)
    if run.early.should_stop:
        start_epoch = cfg.epochs  # the checkpointed run had already stopped early
    t0 = run.t_start - elapsed_before
    for epoch in range(start_epoch, cfg.epochs):
        train_loss, steps, out_of_time = _train_epoch(run, train, cfg, epoch, dist_ctx)
        recalibrate_batchnorm(run, train, cfg, epoch)
        rec = _validate_epoch(model, run, valid, cfg, epoch, train_loss, t0, dist_ctx)
        if out_of_time:
            rec["partial_epoch"] = f"{steps}/{max(1, len(run.sampler))} steps (max_time)"
        result.history.append(rec)
        epoch_log.write(rec)
        if ckpt is not None and dist_ctx.is_main and not out_of_time:
            _save_checkpoint(run, ckpt, result, epoch + 1, time.monotonic() - t0, run_config)
        stop = "max_time" if out_of_time else ("early_stopping" if run.early.should_stop else None)
        if stop:
            result.stopped = stop
            if dist_ctx.is_main:
                log.info("stopping after epoch %d: %s", epoch + 1, stop.replace("_", " "))
            break
    return _finish(run, result)


def _finish(run: _Run, result: FitResult) -> FitResult:
    """Put the best weights back into the net and report the best epoch's validation metrics."""
    if run.early.best_state is not None:
        run.net.load_state_dict(run.early.best_state)
    result.best_epoch = run.early.best_epoch
    best = next((r for r in result.history if r["epoch"] == run.early.best_epoch), None)
    if best is not None:
        result.best_metrics = {
            k[len("valid_") :]: v for k, v in best.items() if k.startswith("valid_") and k != "valid_loss"
        }
    run.net.eval()
    return result


def _finite(v: float) -> float | None:
    """JSON has no NaN: undefined metrics are logged as null."""
    return None if v is None or not math.isfinite(v) else float(v)


def _any_rank(flag: bool, dist_ctx: DistContext, device: torch.device) -> bool:
    if not dist_ctx.active:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item() > 0)


def _sum_ranks(values: list[float], dist_ctx: DistContext, device: torch.device) -> list[float]:
    if not dist_ctx.active:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return t.tolist()
