"""Training and running an esm-head's head on per-residue embeddings held in memory.

Embeddings arrive as one float16 ``(L_i, D)`` array per sequence (computed once
by the frozen encoder); a batch is padded to its longest member as float32
``(B, L, D)`` with a bool mask ``(B, L)``. Training: AdamW, cross-entropy
(``balanced`` class weights on request; BCE with ``pos_weight`` for
multilabel), shuffled batches from torch's global generator (the trainer
seeds it), validation loss after every epoch, the best epoch's weights kept,
stopping after ``patience`` epochs without improvement.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from bioseq.errors import ConfigError

log = logging.getLogger("bioseq.models.esm_head")


def pad_batch(arrays: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x float32 (B, L, D), mask bool (B, L))`` from ``B`` arrays ``(L_i, D)``, zero-padded."""
    length = max(len(a) for a in arrays)
    x = np.zeros((len(arrays), length, arrays[0].shape[1]), np.float32)
    mask = np.zeros((len(arrays), length), bool)
    for i, a in enumerate(arrays):
        x[i, : len(a)] = a
        mask[i, : len(a)] = True
    return torch.from_numpy(x), torch.from_numpy(mask)


def run_head(net: nn.Module, arrays: Sequence[np.ndarray], batch_size: int, pooled: bool) -> np.ndarray:
    """Logits float32 ``(n, C)`` (or pooled vectors ``(n, embedding_dim)``) in input order, eval mode,
    length-sorted batches; the net's train/eval mode is restored afterwards."""
    n = len(arrays)
    width = net.embedding_dim if pooled else net.mlp.out.out_features
    out = np.zeros((n, width), np.float32)
    order = np.argsort([len(a) for a in arrays], kind="stable")
    was_training = net.training
    net.eval()
    try:
        with torch.inference_mode():
            for lo in range(0, n, batch_size):
                idx = order[lo : lo + batch_size]
                x, mask = pad_batch([arrays[i] for i in idx])
                out[idx] = (net.pooled(x, mask) if pooled else net(x, mask)).float().numpy()
    finally:
        net.train(was_training)
    return out


def _loss_fn(task: str, y: np.ndarray, n_classes: int, class_weight: str | None) -> nn.Module:
    """Cross-entropy (balanced ``n / (C n_c)`` weights on request) or BCE (``pos_weight = neg/pos``, <= 100)."""
    if task == "multilabel":
        if class_weight is None:
            return nn.BCEWithLogitsLoss()
        pos = y.sum(axis=0)
        weight = np.clip(np.where(pos > 0, (len(y) - pos) / np.maximum(pos, 1), 1.0), 1e-3, 100.0)
        return nn.BCEWithLogitsLoss(pos_weight=torch.as_tensor(weight, dtype=torch.float32))
    if class_weight is None:
        return nn.CrossEntropyLoss()
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    weight = np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 1.0)
    return nn.CrossEntropyLoss(weight=torch.as_tensor(weight, dtype=torch.float32))


def _target(y: np.ndarray, task: str) -> torch.Tensor:
    return torch.as_tensor(y, dtype=torch.float32 if task == "multilabel" else torch.long)


def _epoch(net: nn.Module, x: Sequence[np.ndarray], y: np.ndarray, loss_fn: nn.Module, opt: Any,
           batch_size: int, task: str) -> float:
    """One shuffled pass over the training set; returns the mean batch loss. A last batch of one
    sequence joins the one before (BatchNorm needs two)."""
    net.train()
    perm = torch.randperm(len(x)).numpy()
    starts = list(range(0, len(x), batch_size))
    if len(starts) > 1 and len(x) - starts[-1] == 1:
        starts.pop()
    total = 0.0
    for k, lo in enumerate(starts):
        idx = perm[lo : starts[k + 1] if k + 1 < len(starts) else len(x)]
        if len(idx) < 2:
            continue
        xb, mask = pad_batch([x[i] for i in idx])
        loss = loss_fn(net(xb, mask), _target(y[idx], task))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach())
    return total / max(1, len(starts))


def _eval_loss(net: nn.Module, x: Sequence[np.ndarray], y: np.ndarray, loss_fn: nn.Module, batch_size: int,
               task: str) -> float:
    logits = torch.from_numpy(run_head(net, x, batch_size, pooled=False))
    with torch.no_grad():
        return float(loss_fn(logits, _target(y, task)))


def train_head(net: nn.Module, x: Sequence[np.ndarray], y: np.ndarray,
               valid: tuple[Sequence[np.ndarray], np.ndarray] | None, task: str, hp: dict,
               deadline: float | None = None) -> list[dict]:
    """Train ``net`` in place on ``x`` (per-residue arrays) and targets ``y`` (int ``(n,)`` or 0/1 ``(n, C)``);
    with ``valid`` keep the weights of the epoch of lowest validation loss. Stops at ``hp["epochs"]``,
    after ``hp["patience"]`` epochs without improvement, or at the first epoch end past ``deadline``
    (``time.monotonic()``; None: none). Returns the per-epoch history."""
    if len(x) < 2:
        raise ConfigError(f"esm-head needs at least two training sequences, got {len(x)}")
    n_classes = net.mlp.out.out_features
    loss_fn = _loss_fn(task, y, n_classes, hp["class_weight"])
    opt = torch.optim.AdamW(net.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    best, best_state, since, history = math.inf, None, 0, []
    t0 = time.monotonic()
    for epoch in range(1, int(hp["epochs"]) + 1):
        rec = {"epoch": epoch, "train_loss": _epoch(net, x, y, loss_fn, opt, int(hp["batch_size"]), task)}
        score = rec["train_loss"]
        if valid is not None:
            score = rec["valid_loss"] = _eval_loss(net, valid[0], valid[1], loss_fn, int(hp["batch_size"]), task)
        rec["elapsed_s"] = round(time.monotonic() - t0, 3)
        history.append(rec)
        log.info("esm-head epoch %d: %s", epoch, {k: round(v, 4) for k, v in rec.items() if k != "epoch"})
        if score < best:
            best, best_state, since = score, copy.deepcopy(net.state_dict()), 0
        else:
            since += 1
            if hp["patience"] and since >= int(hp["patience"]):
                break
        if deadline is not None and time.monotonic() >= deadline:
            log.info("esm-head: stopping after epoch %d: max time", epoch)
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return history
