"""Gradient attributions on one-hot bases: saliency, integrated gradients, DeepLIFT/SHAP.

Every method differentiates the target's **logit** (never the softmax:
tangermeme#43) of :class:`bioseq.models.onehot.OneHotInput`, the trained net
reading one-hot bases ``(B, A, L)``. Each returns, per record, an ``(L, A)``
matrix of *hypothetical* contributions (what each letter would contribute at
each position), the input TF-MoDISco needs:

* ``saliency`` (captum ``Saliency``): the gradient, with the one-hot correction
  of Majdandzic et al. (Genome Biology 2023): the mean over the alphabet is
  subtracted at every position, removing the gradient component that leaves the
  one-hot simplex;
* ``ig`` (captum ``IntegratedGradients``, all-zero baseline, ``steps`` points):
  the path-averaged gradient; at the observed base it is exactly the IG
  attribution (``x - baseline`` is 1 there), so the observed scores sum to
  ``logit(x) - logit(0)`` (completeness);
* ``deepliftshap`` (tangermeme ``deep_lift_shap``, ``n_shuffles``
  dinucleotide-shuffled references, ``hypothetical=True``): DeepLIFT's
  rescale rule on the modules it knows (ReLU, max-pool, GELU, LayerNorm...),
  averaged over the references. The CNN-LSTM's LSTM and the Transformer's
  attention and k-mer products have no DeepLIFT rule and pass gradients
  (tangermeme warns; the warnings are summed up in one log line), so there the
  result is a gradient x difference-from-reference approximation.

k-mer tokens (the Transformer's 4-mers) are reached through the differentiable
k-mer one-hot of :class:`~bioseq.models.onehot.OneHotInput` (products of base
one-hots times the embedding matrix). kmer-linear has no gradients here: use
``ism``. An ensemble's matrix is the weighted sum of its torch members'
matrices (weights renormalised over them; kmer-linear members are left out and
logged).
"""

from __future__ import annotations

import logging
import warnings
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from bioseq.alphabets import get_alphabet
from bioseq.errors import ConfigError
from bioseq.interpret.extras import require
from bioseq.interpret.ism import check_lengths
from bioseq.models.onehot import OneHotInput, encode_onehot

METHODS = ("saliency", "ig", "deepliftshap")
log = logging.getLogger(__name__)


def gradient_attributions(
    model: Any,
    seqs: Sequence[str],
    targets: Sequence[int],
    method: str,
    *,
    batch_size: int = 64,
    n_shuffles: int = 20,
    steps: int = 50,
    seed: int = 0,
    ids: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """float32 ``(L_i, A)`` hypothetical contributions toward ``targets[i]``, one per sequence."""
    if method not in METHODS:
        raise ConfigError(f"unknown gradient method {method!r}; choose one of {', '.join(METHODS)}")
    if getattr(model, "kind", None) == "ensemble":
        return _ensemble(model, seqs, targets, method, batch_size=batch_size, n_shuffles=n_shuffles,
                         steps=steps, seed=seed, ids=ids)
    if model.kind != "torch":
        raise ConfigError(f"{model.arch} has no gradients to attribute; use --method ism")
    check_lengths(model, seqs, ids)
    import torch

    letters = get_alphabet(model.alphabet).letters
    wrapper = OneHotInput(model.net, model.tokenizer).to(model.device)
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, s in enumerate(seqs):
        groups[(len(s), int(targets[i]))].append(i)
    out: list[np.ndarray] = [None] * len(seqs)  # type: ignore[list-item]
    was_training = model.net.training
    model.net.eval()
    caught: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            for (_, target), members in sorted(groups.items()):
                for start in range(0, len(members), batch_size):
                    idx = members[start : start + batch_size]
                    x = torch.as_tensor(np.stack([encode_onehot(seqs[i], letters).T for i in idx]))
                    att = _attribute(wrapper, x.to(model.device), target, method, batch_size, n_shuffles, steps, seed)
                    for row, i in enumerate(idx):
                        out[i] = np.ascontiguousarray(att[row].T, dtype=np.float32)
            caught = [str(w.message) for w in seen if "onvergence" in str(w.message)]
    finally:
        model.net.train(was_training)
    if caught:
        log.warning("deepliftshap: %d batches had convergence deltas above tolerance (ops without a DeepLIFT "
                    "rule, e.g. the LSTM or attention, pass gradients): %s", len(caught), caught[-1][:160])
    return out


def _attribute(
    wrapper: Any, x: Any, target: int, method: str, batch_size: int, n_shuffles: int, steps: int, seed: int
) -> np.ndarray:
    """``(B, A, L)`` hypothetical contributions of one batch of equal-length records."""
    import torch

    if method == "deepliftshap":
        dls = require("tangermeme.deep_lift_shap", "--method deepliftshap")
        att = dls.deep_lift_shap(
            wrapper, x, target=target, batch_size=batch_size, n_shuffles=n_shuffles, hypothetical=True,
            random_state=seed, device=x.device, only_warn=True,
        )
        return att.detach().float().cpu().numpy()
    attr = require("captum.attr", f"--method {method}")
    x = x.clone().requires_grad_(True)
    if method == "saliency":
        grad = attr.Saliency(wrapper).attribute(x, target=target, abs=False)
        grad = grad - grad.mean(dim=1, keepdim=True)  # Majdandzic et al. 2023
        return grad.detach().float().cpu().numpy()
    ig = attr.IntegratedGradients(wrapper, multiply_by_inputs=False)
    avg = ig.attribute(x, baselines=torch.zeros_like(x), target=target, n_steps=steps,
                       internal_batch_size=max(batch_size, 1))
    return avg.detach().float().cpu().numpy()


def _ensemble(model: Any, seqs: Sequence[str], targets: Sequence[int], method: str, **kw: Any) -> list[np.ndarray]:
    members = [(m, w) for m, w in zip(model.members, model.weights, strict=True) if w and m.kind == "torch"]
    skipped = [m.arch for m, w in zip(model.members, model.weights, strict=True) if w and m.kind != "torch"]
    if not members:
        raise ConfigError(f"no member of this ensemble has gradients ({', '.join(skipped)}); use --method ism")
    if skipped:
        log.warning("%s: members without gradients left out: %s", method, ", ".join(skipped))
    norm = sum(w for _, w in members)
    total = [np.zeros((len(s), len(get_alphabet(model.alphabet).letters)), np.float64) for s in seqs]
    for member, w in members:
        for acc, m in zip(total, gradient_attributions(member, seqs, targets, method, **kw), strict=True):
            acc += (w / norm) * m
    return [t.astype(np.float32) for t in total]
