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

from bioseq.evaluate.metrics import validation_metrics
from bioseq.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from bioseq.training.early_stopping import EarlyStopping

log = logging.getLogger("bioseq.training")


@dataclass
class LoopConfig:
    """Optimisation settings (units in the names: ``max_time_min`` minutes)."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
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
    y: np.ndarray


@dataclass
class ValidTensors:
    """Pre-encoded validation pieces (windows) and the record each belongs to."""

    tokens: list[np.ndarray]
    owner: np.ndarray
    y: np.ndarray
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
    total_steps: int, warmup_steps: int, min_frac: float, time_fraction: Callable[[], float] | None = None
):
    """Multiplier of the base LR at step ``s``: linear warm-up, then cosine to ``min_frac``.

    With ``time_fraction`` (the share of a wall-clock budget used so far) the
    cosine follows whichever runs out first, the steps or the time: a run cut
    short by ``max_time`` still anneals its learning rate instead of stopping at
    the peak (measured on enhancers: a Transformer stopped by a 2.5-minute
    budget after 10 of 50 epochs had never left the peak learning rate).
    """

    def fn(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        if time_fraction is not None:
            progress = max(progress, time_fraction())
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


def _loss_fn(task: str, class_weights: torch.Tensor | None):
    if task == "multilabel":
        return lambda logits, y: F.binary_cross_entropy_with_logits(logits, y, pos_weight=class_weights)
    return lambda logits, y: F.cross_entropy(logits, y, weight=class_weights)


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


def evaluate(model: Any, valid: ValidTensors, batch_size: int, dist_ctx: DistContext) -> np.ndarray:
    """Probabilities ``(n_valid, C)`` of the validation records (pieces sharded over ranks)."""
    from bioseq.data.windows import aggregate

    idx = np.arange(len(valid.tokens))[dist_ctx.rank :: dist_ctx.world_size]
    part = (
        model._forward_tokens([valid.tokens[i] for i in idx], batch_size, "probs")
        if len(idx)
        else np.zeros((0, model.n_classes))
    )
    pieces = np.zeros((len(valid.tokens), model.n_classes), np.float64)
    for r, (ix, vals) in enumerate(_gather((idx, part), dist_ctx)):
        del r
        pieces[ix] = vals
    return aggregate(pieces, valid.owner, valid.n)


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
) -> FitResult:
    """Train ``model.net`` in place; on return it holds the best weights.

    Args:
        model: a :class:`bioseq.models.model.Model` of kind ``torch``.
        train, valid: pre-encoded data (see :class:`TrainTensors`, :class:`ValidTensors`).
        cfg: optimisation settings.
        class_weights: ``(C,)`` CE class weights or BCE ``pos_weight``; None: unweighted.
        log_path: JSON-lines epoch log (rank 0 writes).
        checkpoint: checkpoint file (rank 0 writes after every epoch; None: none).
        resume: continue from ``checkpoint`` when it exists.
        run_config: identifies the run; a checkpoint of another run is refused.
        dist_ctx: DDP rank/world size (the process group must be initialised).
    """
    from tqdm.auto import tqdm

    from bioseq.data.batching import LengthBucketSampler, collate
    from bioseq.data.windows import random_crop
    from bioseq.device import autocast

    dist_ctx = dist_ctx or DistContext()
    device = model.device
    net = model.net
    net.to(device)
    runner = net
    if dist_ctx.active:
        from torch.nn.parallel import DistributedDataParallel

        runner = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

    lengths = np.fromiter((len(t) for t in train.tokens), np.int64, len(train.tokens))
    sampler = LengthBucketSampler(
        lengths,
        cfg.batch_size,
        shuffle=True,
        seed=cfg.seed,
        rank=dist_ctx.rank,
        world_size=dist_ctx.world_size,
    )
    steps_per_epoch = max(1, len(sampler))
    total_steps = steps_per_epoch * max(1, cfg.epochs)
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = max(1, int(cfg.warmup_frac * total_steps))
    # max_time is the budget of this invocation (a resumed run gets a fresh one);
    # elapsed_s in the log counts the whole run across resumptions.
    budget = None if cfg.max_time_min is None else cfg.max_time_min * 60.0
    t_start = time.monotonic()
    # The time-aware schedule is for single-process runs: DDP ranks must apply
    # identical learning rates, and their clocks differ.
    time_fraction = (
        (lambda: (time.monotonic() - t_start) / budget) if budget is not None and dist_ctx.world_size == 1 else None
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda_factory(total_steps, warmup, cfg.min_lr_frac, time_fraction)
    )
    weights = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32, device=device)
    loss_fn = _loss_fn(model.task, weights)
    y_all = torch.from_numpy(train.y)

    early = EarlyStopping(cfg.patience)
    result = FitResult()
    start_epoch, elapsed_before = 0, 0.0
    ckpt = Path(checkpoint) if checkpoint else None
    if resume and ckpt is not None and ckpt.exists():
        state = load_checkpoint(ckpt, run_config)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        early.load_state_dict(state["early_stopping"], state["best_model"] or None)
        set_rng_state(state["rng"])
        result.history = list(state["history"])
        start_epoch, elapsed_before = int(state["epoch"]), float(state["elapsed_s"])
        log.info("resuming from %s after epoch %d", ckpt, start_epoch)
    elif resume and dist_ctx.is_main:
        log.info("--resume: no checkpoint at %s, starting from scratch", ckpt)
    epoch_log = _EpochLog(log_path, result.history, dist_ctx.is_main)
    if early.should_stop:
        start_epoch = cfg.epochs  # the checkpointed run had already stopped early

    t0 = t_start - elapsed_before
    out_of_time = False
    for epoch in range(start_epoch, cfg.epochs):
        torch.manual_seed(_seed_for(cfg.seed, epoch, dist_ctx.rank, 1))
        rng = np.random.default_rng([cfg.seed, epoch, dist_ctx.rank, 2])
        sampler.set_epoch(epoch)
        net.train()
        loss_sum, n_seen, steps = 0.0, 0, 0
        bar = tqdm(
            total=steps_per_epoch,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            unit="batch",
            leave=False,
            file=sys.stderr,
            disable=(not dist_ctx.is_main) or (None if cfg.progress is None else not cfg.progress),
        )
        for batch in sampler:
            toks = []
            for i in batch:
                use_rc = train.rc_tokens is not None and rng.random() < 0.5
                t = train.rc_tokens[i] if use_rc else train.tokens[i]
                if cfg.max_tokens and len(t) > cfg.max_tokens:
                    t = random_crop(t, cfg.max_tokens, rng)
                toks.append(t)
            ids, mask = collate(toks)
            ids, mask = ids.to(device), mask.to(device)
            target = y_all[batch].to(device)
            with autocast(device):
                logits = runner(ids, mask)
            loss = loss_fn(logits.float(), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_norm:
                torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip_norm)
            optimizer.step()
            scheduler.step()
            loss_sum += float(loss.detach()) * len(batch)
            n_seen += len(batch)
            steps += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum / n_seen:.4f}", refresh=False)
            if budget is not None and _any_rank(time.monotonic() - t_start > budget, dist_ctx, device):
                out_of_time = True
                break
        bar.close()
        sums = _sum_ranks([loss_sum, float(n_seen)], dist_ctx, device)
        train_loss = sums[0] / max(1.0, sums[1])

        probs = evaluate(model, valid, max(cfg.batch_size, 256), dist_ctx)
        valid_loss = validation_loss(model.task, valid.y, probs)
        metrics = validation_metrics(model.task, valid.y, probs, model.thresholds and np.asarray(model.thresholds))
        improved = early.step(epoch + 1, metrics.get(cfg.metric, float("nan")), valid_loss, net.state_dict())
        rec: dict[str, Any] = {"epoch": epoch + 1, "train_loss": train_loss, "valid_loss": valid_loss}
        rec.update({f"valid_{k}": _finite(v) for k, v in metrics.items()})
        rec.update(lr=scheduler.get_last_lr()[0], elapsed_s=round(time.monotonic() - t0, 3), best=improved)
        if out_of_time:
            rec["partial_epoch"] = f"{steps}/{steps_per_epoch} steps (max_time)"
        result.history.append(rec)
        epoch_log.write(rec)
        if dist_ctx.is_main:
            log.info(
                "epoch %d/%d: train_loss %.4f valid_loss %.4f valid_%s %.4f%s",
                epoch + 1,
                cfg.epochs,
                train_loss,
                valid_loss,
                cfg.metric,
                metrics.get(cfg.metric, float("nan")),
                " (best)" if improved else "",
            )
        stop = "max_time" if out_of_time else ("early_stopping" if early.should_stop else None)
        if ckpt is not None and dist_ctx.is_main and not out_of_time:
            save_checkpoint(
                ckpt,
                {
                    "model": net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "early_stopping": early.state_dict(),
                    "best_model": early.best_state or {},
                    "rng": rng_state(),
                    "history": result.history,
                    "epoch": epoch + 1,
                    "elapsed_s": time.monotonic() - t0,
                    "config": run_config or {},
                },
            )
        if stop:
            result.stopped = stop
            if dist_ctx.is_main:
                log.info("stopping after epoch %d: %s", epoch + 1, stop.replace("_", " "))
            break
    if early.best_state is not None:
        net.load_state_dict(early.best_state)
    result.best_epoch = early.best_epoch
    best = next((r for r in result.history if r["epoch"] == early.best_epoch), None)
    if best is not None:
        result.best_metrics = {
            k[len("valid_") :]: v for k, v in best.items() if k.startswith("valid_") and k != "valid_loss"
        }
    net.eval()
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
