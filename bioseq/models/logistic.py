"""Logistic regression on a float matrix, with arrays-only state (the one linear model of bioseq).

Why one module: the k-mer baseline (:mod:`bioseq.models.kmer_linear`) and the
head fitted on cached embeddings (:mod:`bioseq.embed.head`) are the same model
on different features: standardise with the training mean and scale, fit
scikit-learn's ``LogisticRegression`` (lbfgs), then compute probabilities from
the fitted arrays with NumPy. Keeping only arrays (no estimator object) is what
lets both be saved as safetensors, never as pickle, and a loaded model give
bit-identical probabilities.

Convention: one logit row per output, ``C`` rows. Two classes are ``C = 2``
with row 0 fixed at zero (``softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)]``,
scikit-learn's single binary logit ``z``); multilabel is one independent
binary regression (sigmoid) per label.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from bioseq.errors import BundleError, LabelError
from bioseq.tasks import probabilities

STATE_KEYS = ("coef", "intercept", "mean", "scale")


@dataclass(frozen=True)
class Logistic:
    """Fitted arrays, float64: ``coef`` (C, D), ``intercept`` (C,), ``mean`` and ``scale`` (D,).

    ``logits(x) = ((x - mean) / scale) @ coef.T + intercept``.
    """

    coef: np.ndarray
    intercept: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.coef.shape[1])

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits (n, C) float64 of features ``x`` (n, D).

        The standardisation is folded into the weights, ``(x - mean) / scale @ W.T
        = x @ (W / scale).T - (W / scale) @ mean``, which saves two passes over x.
        """
        coef = self.coef / self.scale
        if sp.issparse(x):  # sparse rows (kmer-linear): each row's dot products in its own column order
            return np.asarray(x.tocsr().astype(np.float64) @ coef.T) + (self.intercept - coef @ self.mean)
        return np.asarray(x, dtype=np.float64) @ coef.T + (self.intercept - coef @ self.mean)

    def predict_proba(self, x: np.ndarray, multilabel: bool = False) -> np.ndarray:
        """Probabilities float32 (n, C): softmax over the C logits, or one sigmoid each (multilabel)."""
        return probabilities(self.logits(x), "multilabel" if multilabel else "multiclass")

    def state_dict(self) -> dict[str, np.ndarray]:
        """The arrays by name (safetensors-ready, no pickle)."""
        return {k: np.ascontiguousarray(getattr(self, k)) for k in STATE_KEYS}

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray], n_outputs: int, dim: int, what: str) -> Logistic:
        """Restore :meth:`state_dict`; a missing array, a wrong shape, a non-float dtype or a non-finite value is a
        BundleError naming ``what``."""
        missing = [k for k in STATE_KEYS if k not in state]
        if missing:
            raise BundleError(f"{what} state lacks array(s): {', '.join(missing)}")
        want = {"coef": (n_outputs, dim), "intercept": (n_outputs,), "mean": (dim,), "scale": (dim,)}
        for k, shape in want.items():
            if np.shape(state[k]) != shape:
                raise BundleError(f"{what} state array {k!r} has shape {np.shape(state[k])}, expected {shape}")
            if not np.issubdtype(np.asarray(state[k]).dtype, np.floating):
                raise BundleError(f"{what} state array {k!r} is {np.asarray(state[k]).dtype}, expected floating point")
            if not np.isfinite(state[k]).all():
                raise BundleError(f"{what} state array {k!r} holds NaN or infinite values")
        return cls(**{k: np.asarray(state[k], dtype=np.float64).copy() for k in STATE_KEYS})


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    multilabel: bool = False,
    standardize: bool = True,
    C: float = 1.0,
    max_iter: int = 1000,
    tol: float = 1e-4,
    class_weight: str | None = None,
) -> Logistic:
    """Fit on features ``x`` (n, D) and targets ``y``.

    Args:
        y: int class ids (n,) in ``[0, n_classes)``, every class present; or, with
            ``multilabel``, multi-hot (n, n_classes) (a label that is always or
            never present gets its clipped prior as intercept).
        x: a dense array, or a scipy.sparse matrix (then ``standardize`` must be
            False: centring would make it dense).
        standardize: scale features by the training mean and standard deviation
            (constant features keep scale 1); else mean 0 and scale 1.
        C, max_iter, tol, class_weight: passed to ``LogisticRegression``.
    """
    from sklearn.linear_model import LogisticRegression

    if sp.issparse(x):
        if standardize:
            raise ValueError("sparse features cannot be standardised (centring makes them dense)")
        x = sp.csr_matrix(x, dtype=np.float64)
    else:
        x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    if x.shape[0] != len(y):
        raise LabelError(f"{x.shape[0]} feature rows but {len(y)} targets")
    mean, scale = np.zeros(x.shape[1]), np.ones(x.shape[1])
    if standardize:
        mean, std = x.mean(axis=0), x.std(axis=0)
        scale = np.where(std > 1e-12, std, 1.0)
        x = (x - mean) / scale

    active = active_columns(x) if sp.issparse(x) else np.arange(x.shape[1])
    x_active = x[:, active] if len(active) < x.shape[1] else x

    def fit(target: np.ndarray) -> LogisticRegression:
        lr = LogisticRegression(C=float(C), max_iter=int(max_iter), tol=float(tol), class_weight=class_weight)
        return lr.fit(x_active, target)

    coef_active, intercept = np.zeros((n_classes, len(active))), np.zeros(n_classes)
    with warnings.catch_warnings():
        # lbfgs may stop at max_iter on separable data; the fit is still usable.
        warnings.filterwarnings("ignore", message=".*lbfgs failed to converge.*")
        warnings.filterwarnings("ignore", message=".*max_iter was reached.*")
        if multilabel:
            _fit_one_vs_rest(fit, y, n_classes, coef_active, intercept)
        else:
            _fit_softmax(fit, y, n_classes, coef_active, intercept)
    coef = np.zeros((n_classes, x.shape[1]))
    coef[:, active] = coef_active
    return Logistic(coef, intercept, mean, scale)


def active_columns(x: sp.spmatrix) -> np.ndarray:
    """Sorted indices of the columns of sparse ``x`` that hold a stored value (at least one,
    so that a fit always has a feature).

    Why: under the L2 penalty a column that is zero in every training row has zero
    gradient from its zero start, so its weight stays exactly 0; fitting without it
    reaches the same optimum while L-BFGS works on vectors of the active size. A
    k-mer space of 182k columns (DNA defaults) fitted on a few hundred sequences uses
    a few thousand of them.
    """
    active = np.unique(sp.csr_matrix(x).indices)
    return active if len(active) else np.zeros(1, dtype=active.dtype)


def _fit_one_vs_rest(fit, y: np.ndarray, n_classes: int, coef: np.ndarray, intercept: np.ndarray) -> None:
    """One binary regression per label into ``coef[j]``, ``intercept[j]``."""
    if y.ndim != 2 or y.shape[1] != n_classes:
        raise LabelError(f"multilabel targets must be (n, {n_classes}) multi-hot, got {y.shape}")
    for j in range(n_classes):
        col = y[:, j].astype(np.int64)
        if col.min() == col.max():  # a label always (or never) present: its prior
            p = np.clip(col.mean(), 1e-6, 1 - 1e-6)
            intercept[j] = np.log(p / (1 - p))
            continue
        lr = fit(col)
        coef[j], intercept[j] = lr.coef_[0], lr.intercept_[0]


def _fit_softmax(fit, y: np.ndarray, n_classes: int, coef: np.ndarray, intercept: np.ndarray) -> None:
    """One multinomial regression into ``coef``/``intercept`` (two classes: row 0 stays zero)."""
    y = y.astype(np.int64).ravel()
    present = np.unique(y)
    if present.min() < 0 or present.max() >= n_classes:
        raise LabelError(f"class ids must lie in [0, {n_classes}), got {present.min()}..{present.max()}")
    missing = sorted(set(range(n_classes)) - set(present.tolist()))
    if missing:
        raise LabelError(f"class id(s) {missing} have no training sequence")
    lr = fit(y)
    if n_classes == 2:  # sklearn's one logit z -> softmax([0, z]) = [1 - s(z), s(z)]
        coef[1], intercept[1] = lr.coef_[0], lr.intercept_[0]
    else:
        coef[lr.classes_], intercept[lr.classes_] = lr.coef_, lr.intercept_


def log_loss(probs: np.ndarray, y: np.ndarray, multilabel: bool = False) -> float:
    """Mean cross-entropy of probabilities ``probs`` (n, C) against class ids (n,) or
    multi-hot ``y`` (n, C) (multilabel: the mean binary cross-entropy over labels)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    y = np.asarray(y)
    if multilabel:
        q = np.clip(1.0 - np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(q)))
    return float(-np.mean(np.log(p[np.arange(len(y)), y.astype(np.int64).ravel()])))


@dataclass(frozen=True)
class Selection:
    """The regularisation path: ``grid`` (ascending C), ``valid_loss`` per C (NaN where the
    path stopped early), the chosen ``C`` and its fitted model."""

    grid: np.ndarray
    valid_loss: np.ndarray
    C: float
    model: Logistic


def select_logistic(
    x: np.ndarray | sp.spmatrix,
    y: np.ndarray,
    x_valid: np.ndarray | sp.spmatrix,
    y_valid: np.ndarray,
    n_classes: int,
    grid: list[float],
    *,
    multilabel: bool = False,
    patience: int = 1,
    deadline: float | None = None,
    **fit_kwargs,
) -> Selection:
    """Fit :func:`fit_logistic` on ``x`` for each C of ``grid`` (ascending) and keep the one of
    lowest validation log loss; stop once ``patience`` successive C have not improved on the best,
    or after the first fit that ends past ``deadline`` (``time.monotonic()``; None: no limit).

    The validation loss of L2 logistic regression is in practice unimodal in C, so the early
    stop skips the slowest fits (weak regularisation needs the most iterations). The deadline
    lets ``--arch auto`` bound this candidate's share of its budget: at least one C is fitted,
    and the C not reached keep a NaN loss in the returned path.
    ``fit_kwargs`` go to :func:`fit_logistic` (``standardize``, ``max_iter``, ``tol``, ``class_weight``).
    """
    grid_arr = np.sort(np.asarray(grid, dtype=np.float64))
    losses = np.full(len(grid_arr), np.nan)
    best: tuple[float, int, Logistic] | None = None
    for i, c in enumerate(grid_arr):
        model = fit_logistic(x, y, n_classes, multilabel=multilabel, C=float(c), **fit_kwargs)
        losses[i] = log_loss(model.predict_proba(x_valid, multilabel=multilabel), y_valid, multilabel)
        if best is None or losses[i] < best[0]:
            best = (float(losses[i]), i, model)
        elif i - best[1] >= patience:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
    if best is None:
        raise ValueError("select_logistic needs at least one C in its grid")
    return Selection(grid_arr, losses, float(grid_arr[best[1]]), best[2])
