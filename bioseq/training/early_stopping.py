"""Early stopping on a validation metric, keeping the best weights.

The monitored metric is "higher is better" (MCC, AUPRC, F1). Ties, common in
the first epochs when a model still predicts one class (MCC = 0), are broken
by the lower validation loss, so the kept weights are not simply the first
epoch's.
"""

from __future__ import annotations

import copy
import math
from typing import Any


class EarlyStopping:
    """Tracks the best epoch and says when to stop.

    Args:
        patience: epochs without improvement before :attr:`should_stop` is True
            (``None`` or ``0``: never stop early).
        min_delta: smallest metric increase that counts as an improvement.
    """

    def __init__(self, patience: int | None = 5, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best_score = -math.inf
        self.best_loss = math.inf
        self.best_epoch = -1
        self.best_state: dict[str, Any] | None = None
        self.bad_epochs = 0

    def step(self, epoch: int, score: float, loss: float, state: dict[str, Any] | None = None) -> bool:
        """Record one epoch; return True when it is the new best.

        ``state`` (e.g. ``model.state_dict()``) is deep-copied when it improves,
        so later training cannot overwrite the kept weights.
        """
        score = -math.inf if score is None or math.isnan(score) else float(score)
        loss = math.inf if loss is None or math.isnan(loss) else float(loss)
        better = score > self.best_score + self.min_delta or (
            abs(score - self.best_score) <= self.min_delta and loss < self.best_loss
        )
        if better:
            self.best_score, self.best_loss, self.best_epoch = score, loss, epoch
            self.best_state = _copy_state(state) if state is not None else None
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        return better

    @property
    def should_stop(self) -> bool:
        return bool(self.patience) and self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        """Plain-value state (no weights) for checkpoints."""
        return {
            "best_score": self.best_score,
            "best_loss": self.best_loss,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict[str, Any], best_state: dict[str, Any] | None = None) -> None:
        self.best_score = float(state["best_score"])
        self.best_loss = float(state["best_loss"])
        self.best_epoch = int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])
        self.best_state = best_state


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in state.items():
        if hasattr(v, "detach"):
            out[k] = v.detach().to("cpu", copy=True)
        else:
            out[k] = copy.deepcopy(v)
    return out
