"""``bioseq train --arch auto``: train several architectures, keep the best member or a weighted ensemble.

"auto" is a training mode, not an architecture of the model registry: it trains
registry architectures (the *candidates*, by default kmer-linear, cnn-lstm and
transformer) on the same data and keeps an
:class:`~bioseq.models.ensemble.EnsembleClassifier` in one bundle.

Budget (``max_time`` minutes, for the whole call): 5 % is kept for scoring and
saving. Candidates fitted in closed form (sklearn kind: kmer-linear, seconds)
run first; each may use up to an equal share of the budget among all candidates
(kmer-linear's C search stops at its best C so far once that share is spent), so
that on a slow or loaded machine the nets still train (a 1.5-minute demo once
left them 3 s each after kmer-linear took 80 s). The rest goes to the torch
nets in turn, each getting an equal share of what is left when it starts (so
time a net leaves unused by stopping early goes to the next one). Time still
left then buys more seeds of each net, in rounds (round ``r`` trains every net
again with :func:`round_seed`), up to ``seeds_per_net`` (default
:data:`MAX_SEEDS`): a net's next seed starts only if its share of what is left
is :data:`REPEAT_MARGIN` times what its first seed took, so a repeat is never a
truncated run. Why: on the bundled sets most nets stop early (patience) well
inside their share, and several seeds of one net average out the
initialisation noise that decides a single run (splice_uci test accuracy of
one cnn-lstm ranges 0.90-0.92 across seeds). Without ``max_time`` every net
trains ``seeds_per_net`` (default 1) times for ``epochs`` with early stopping,
as alone.

Weights: each architecture's seeds form a *seed bag*, averaged with equal
weights (no choice made on validation inside a bag); then greedy ensemble
selection with replacement (Caruana et al., ICML 2004) between the bags on the
validation split, maximising the selection metric (MCC; macro-AUPRC for
multilabel): start from the best bag, then :data:`GREEDY_ROUNDS` times add the
bag (again, if it helps most) that gives the best score of the average; the
weights are the counts of the best round, a bag's weight shared equally by its
seeds. Only a strict improvement replaces the kept weights, so ties go to fewer
bags. Should a single seed score strictly higher on validation than the chosen
mixture, that seed alone is kept: the kept model is never worse on validation
than its best member. Members of weight 0 are dropped from the bundle.

Why bags: with several seeds per net, greedy selection over every seed has
many free weights for a small validation split (296 sequences for
ienhancer2l_enhancer) and fits its noise. In ``bench/accuracy.py`` (3 seeds,
the same candidates for both rules) bags and greedy over every seed were within
noise on test (splice +0.005, enhancers +0.003, AMP -0.004 for bags) and bags
varied less across seeds (README: Accuracy against peers and targets).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bioseq.bundle import save_bundle
from bioseq.device import set_threads
from bioseq.errors import ConfigError
from bioseq.evaluate.metrics import selection_metric, validation_metrics
from bioseq.models.classifier import Classifier
from bioseq.models.ensemble import ENSEMBLE_ARCH, EnsembleClassifier, weighted_average
from bioseq.models.registry import get_model, resolve_hparams
from bioseq.training.config import TrainConfig
from bioseq.training.finetune import PRETRAINED_CANDIDATE, encoder_metadata
from bioseq.training.labels import label_counts, length_summary
from bioseq.training.loop import DistContext, FitResult, _finite
from bioseq.training.single import LabelledData, fit_member, load_data, log_data, valid_metrics

log = logging.getLogger("bioseq.training")

DEFAULT_CANDIDATES = ("kmer-linear", "cnn-lstm", "transformer")
RESERVE = 0.05  # share of max_time kept for scoring the candidates, choosing weights and saving
MIN_SHARE_S = 3.0  # a net whose turn comes after the budget is spent still gets a few steps
MAX_SEEDS = 5  # seeds per net when max_time is given and seeds_per_net is not
REPEAT_MARGIN = 1.25  # a net's next seed needs this multiple of its first seed's seconds
GREEDY_ROUNDS = 20
SELECTION = (
    "each architecture's seeds averaged with equal weights (seed bags), then greedy ensemble selection with "
    f"replacement (Caruana et al. 2004) between the bags on the validation split, {GREEDY_ROUNDS} rounds from "
    "the best bag; only strict improvements kept (ties: fewer bags); a single seed strictly better on "
    "validation is kept alone"
)
BUDGET_SPLIT = (
    "5% kept for scoring and saving; closed-form candidates (kmer-linear) first, each within an equal "
    "share of the budget among all candidates; "
    "the rest shared equally by the torch nets in turn (unused time rolls over); time left buys more "
    f"seeds per net in rounds (a net's next seed when its share is {REPEAT_MARGIN}x its first seed's time)"
)


@dataclass
class Candidate:
    """One trained candidate: its classifier, fit, training seed, time budget (minutes, None:
    none) and seconds taken."""

    arch: str
    model: Classifier
    fit: FitResult
    seed: int
    max_time_min: float | None
    seconds: float

    @property
    def label(self) -> str:
        """``arch`` and seed, for logs."""
        return f"{self.arch} (seed {self.seed})"


def train_auto(train_src: Any, valid_src: Any, cfg: TrainConfig) -> EnsembleClassifier:
    """Train the candidates of ``cfg`` within ``cfg.max_time``, keep the best member or a weighted
    ensemble, and (with ``cfg.output``) write its bundle."""
    data, sel, trained = train_candidates(train_src, valid_src, cfg)
    ensemble, scores, probs = choose_from(trained, data, sel, try_strands=cfg.test_time_rc)
    _record_metadata(ensemble, trained, scores, data, sel, cfg, probs)
    if cfg.log is not None:
        _write_log(cfg.log, ensemble.metadata["history"])
    if cfg.output is not None:
        save_bundle(ensemble, cfg.output)
        log.info("wrote %s (validation %s %s)", cfg.output, sel, ensemble.metadata["metrics"].get(sel))
    return ensemble


def train_candidates(train_src: Any, valid_src: Any, cfg: TrainConfig) -> tuple[LabelledData, str, list[Candidate]]:
    """Read the data and train every candidate of ``cfg`` within ``cfg.max_time`` (the clock
    starts here): ``(data, selection metric, candidates in training order)``. The first half of
    :func:`train_auto`; ``bench/accuracy.py`` calls it to compare selection rules on the same
    candidates."""
    t_begin = time.monotonic()
    plan = plan_candidates(cfg)
    set_threads(cfg.threads)
    data = load_data(train_src, valid_src, cfg)
    sel = selection_metric(data.task, cfg.metric)
    log_data(data, sel)
    return data, sel, _train_candidates(plan, data, cfg, sel, t_begin)


def plan_candidates(cfg: TrainConfig) -> list[tuple[str, Any, dict | None]]:
    """``(arch, architecture class, hparams overrides)`` per candidate, in training order
    (closed-form candidates first); refuses what ``auto`` cannot honour, before any data is read."""
    for opt, value in (("k/--kmer", cfg.k), ("stride", cfg.stride), ("canonical", cfg.canonical)):
        if value is not None:
            raise ConfigError(f"{opt} picks one architecture's tokenizer; with arch auto each candidate uses its own")
    if cfg.resume:
        raise ConfigError("resume continues one architecture's checkpoint; arch auto writes none")
    if cfg.distributed:
        raise ConfigError("arch auto does not run under torchrun (DDP); train its candidates one by one there")
    names = list(cfg.candidates or DEFAULT_CANDIDATES)
    if ENSEMBLE_ARCH in names or len(set(names)) != len(names):
        raise ConfigError(f"candidates must be distinct registry architectures, got {', '.join(names)}")
    if cfg.init is not None and PRETRAINED_CANDIDATE not in names:
        names.append(PRETRAINED_CANDIDATE)  # the net fine-tuned from --init
    elif cfg.init is None and PRETRAINED_CANDIDATE in names:
        raise ConfigError(f"candidate {PRETRAINED_CANDIDATE!r} fine-tunes a pretrained encoder: give init (--init)")
    hparams = dict(cfg.hparams or {})
    stray = sorted(set(hparams) - set(names))
    if stray:
        raise ConfigError(
            f"with arch auto, hparams maps a candidate to its overrides (e.g. {{\"transformer\": "
            f"{{\"d_model\": 64}}}}); {', '.join(map(repr, stray))} is no candidate ({', '.join(names)})"
        )
    plan = []
    for name in names:
        pretrained = name == PRETRAINED_CANDIDATE
        arch_cls = get_model(encoder_metadata(cfg.init)["arch"] if pretrained else name)  # type: ignore[arg-type]
        overrides = hparams.get(name)
        if overrides is not None and not isinstance(overrides, Mapping):
            raise ConfigError(f"hparams[{name!r}] must be a mapping of hyper-parameters, got {overrides!r}")
        if not pretrained:  # the encoder's hyper-parameters are checked when its candidate is built
            resolve_hparams(arch_cls, cfg.alphabet or "dna", overrides)  # fail fast on an unknown key
        plan.append((name, arch_cls, None if overrides is None else dict(overrides)))
    return sorted(plan, key=lambda p: p[1].kind == "torch")  # stable: closed-form first, else as given


def round_seed(seed: int, round_: int) -> int:
    """The training seed of a net's ``round_``-th run (0: ``seed`` itself). Later rounds draw from
    ``numpy.random.SeedSequence((seed, round_))``, so two auto runs with nearby seeds (0, 1, 2 in
    a benchmark) never share a member's seed."""
    if round_ == 0:
        return seed
    return int(np.random.SeedSequence((seed, round_)).generate_state(1)[0])


def seed_rounds(cfg: TrainConfig) -> int:
    """How many seeds each net may train: ``seeds_per_net``, else :data:`MAX_SEEDS` within a
    ``max_time`` budget (fewer if it runs out), else 1."""
    if cfg.seeds_per_net is not None:
        return cfg.seeds_per_net
    return MAX_SEEDS if cfg.max_time is not None else 1


def repeat_share_s(left_s: float, nets_left: int, first_s: float, round_: int) -> float | None:
    """Seconds a net gets when its turn comes with ``left_s`` of the budget left and ``nets_left``
    nets (itself included) still to train in this round; None: skip it (a repeat, ``round_ > 0``,
    whose share is under :data:`REPEAT_MARGIN` times the ``first_s`` its first seed took)."""
    share = left_s / nets_left
    if round_ > 0 and share < REPEAT_MARGIN * first_s:
        return None
    return max(share, MIN_SHARE_S)


def _train_candidates(
    plan: list[tuple[str, Any, dict | None]], data: LabelledData, cfg: TrainConfig, sel: str, t_begin: float
) -> list[Candidate]:
    """Closed-form candidates once, then the nets in seed rounds (module docstring: Budget)."""
    budget_s = None if cfg.max_time is None else cfg.max_time * 60.0 * (1.0 - RESERVE)
    closed_min = None if budget_s is None else budget_s / len(plan) / 60.0  # each closed-form candidate's cap
    out = [_fit_candidate(p, data, cfg, sel, closed_min, cfg.seed) for p in plan if p[1].kind != "torch"]
    nets = [p for p in plan if p[1].kind == "torch"]
    first_s: dict[str, float] = {}
    for round_ in range(seed_rounds(cfg)):
        trained = 0
        for i, p in enumerate(nets):
            share = None
            if budget_s is not None:
                left = budget_s - (time.monotonic() - t_begin)
                share = repeat_share_s(left, len(nets) - i, first_s.get(p[0], 0.0), round_)
                if share is None:
                    continue
            c = _fit_candidate(p, data, cfg, sel, None if share is None else share / 60.0, round_seed(cfg.seed, round_))
            first_s.setdefault(c.arch, c.seconds)
            out.append(c)
            trained += 1
        if not trained:
            break
    return out


def _fit_candidate(
    entry: tuple[str, Any, dict | None], data: LabelledData, cfg: TrainConfig, sel: str,
    share_min: float | None, seed: int,
) -> Candidate:
    """Train one candidate ``(name, architecture class, overrides)`` with ``seed`` within
    ``share_min`` minutes (None: no limit)."""
    name, arch_cls, overrides = entry
    t0 = time.monotonic()
    pretrained = name == PRETRAINED_CANDIDATE  # fine-tuned from --init; the others start from scratch
    init = {} if pretrained else {"init": None, "freeze_encoder": False, "unfreeze_after": None}
    member_cfg = cfg.replace(
        arch=arch_cls.name if pretrained else name, candidates=None, seeds_per_net=None, hparams=overrides,
        max_time=share_min, seed=seed, output=None, log=None, resume=False, test_time_rc=False, **init,
    )
    model, fit = fit_member(arch_cls, data, member_cfg, sel, DistContext(), cfg.device, t0)
    c = Candidate(name, model, fit, seed, share_min, time.monotonic() - t0)
    log.info(
        "candidate %s: validation %s %s after %.1f s%s", c.label, sel, fit.best_metrics.get(sel), c.seconds,
        "" if share_min is None else f" (budget {share_min * 60:.0f} s)",
    )
    return c


def select_weights(
    probs: Sequence[np.ndarray], score: Callable[[np.ndarray], float], rounds: int = GREEDY_ROUNDS
) -> tuple[np.ndarray, float, list[float]]:
    """Greedy ensemble selection with replacement; returns ``(weights (n,), best score, single scores)``.

    ``score(probs) -> float`` (higher is better; NaN counts as -inf). Starts from
    the best single member (the first of equals), adds one member per round and
    keeps the weights of the best round; only a strict improvement counts, so
    the result is never worse than the best single member and ties keep fewer
    members. Every candidate average is computed by
    :func:`~bioseq.models.ensemble.weighted_average`, as the ensemble computes it.
    """

    singles = [_score_or_inf(score, p) for p in probs]
    counts = np.zeros(len(probs), np.int64)
    counts[int(np.argmax(singles))] = 1
    best_counts, best = counts.copy(), max(singles)
    for _ in range(rounds if len(probs) > 1 else 0):
        trials = []
        for j in range(len(probs)):
            trial = counts.copy()
            trial[j] += 1
            trials.append(_score_or_inf(score, weighted_average(probs, trial / trial.sum())))
        j = int(np.argmax(trials))
        counts[j] += 1
        if trials[j] > best:
            best_counts, best = counts.copy(), trials[j]
    return best_counts / best_counts.sum(), best, singles


def _score_or_inf(score: Callable[[np.ndarray], float], probs: np.ndarray) -> float:
    """``score(probs)``, with NaN (e.g. MCC of a constant prediction) as -inf."""
    s = float(score(probs))
    return s if math.isfinite(s) else -math.inf


def select_bagged_weights(
    probs: Sequence[np.ndarray], groups: Sequence[str], score: Callable[[np.ndarray], float]
) -> tuple[np.ndarray, float, list[float]]:
    """:func:`select_weights` over *seed bags*: the models of one group (an architecture's seeds)
    first averaged with equal weights, then greedy selection between the bags; a bag's weight is
    shared equally by its models, unless one model alone scores strictly higher than the chosen
    mixture (then it is kept alone). Returns ``(weights (n,) per model, best score, each model's
    own score)``. Fewer free weights than selecting over every seed: less to overfit on a small
    validation split."""
    names = list(dict.fromkeys(groups))
    index = [[i for i, g in enumerate(groups) if g == name] for name in names]
    bags = [weighted_average([probs[i] for i in idx], [1.0 / len(idx)] * len(idx)) for idx in index]
    bag_w, best, _ = select_weights(bags, score)
    weights = np.zeros(len(probs))
    for w, idx in zip(bag_w, index, strict=True):
        weights[idx] = w / len(idx)
    singles = [_score_or_inf(score, p) for p in probs]
    if max(singles) > best:  # one seed beats every mixture: keep it alone (never worse than a member)
        weights = np.zeros(len(probs))
        weights[int(np.argmax(singles))] = 1.0
        best = max(singles)
    return weights, best, singles


def choose_from(
    trained: Sequence[Candidate], data: LabelledData, sel: str, *, try_strands: bool = False, bags: bool = True
) -> tuple[EnsembleClassifier, list[float], np.ndarray]:
    """:func:`choose_ensemble` over trained candidates, their seeds bagged by architecture (what
    :func:`train_auto` keeps); ``bags=False``: greedy weights over every seed (the rule bags
    replaced, which ``bench/accuracy.py`` scores beside it)."""
    return choose_ensemble(
        [c.model for c in trained], [c.label for c in trained], data, sel, try_strands=try_strands,
        seed_bags=[c.arch for c in trained] if bags else None,
    )


def choose_ensemble(
    models: Sequence[Classifier], names: Sequence[str], data: LabelledData, sel: str, *, try_strands: bool = False,
    seed_bags: Sequence[str] | None = None,
) -> tuple[EnsembleClassifier, list[float], np.ndarray]:
    """The ensemble of trained ``models`` (named ``names``) with weights chosen on ``data.valid``.

    Returns ``(ensemble, each model's validation score, the ensemble's validation
    probabilities (n_valid, C))``. With ``try_strands`` (``--test-time-rc``), each
    nucleic-acid model first reads both strands at test time (``strands = "both"``)
    if that strictly raises its own validation score (:func:`decide_strands`); then
    :func:`select_bagged_weights` with ``seed_bags`` (a group name per model: its
    architecture; what :func:`train_auto` does), else :func:`select_weights` over every
    model. Members of weight 0 are left out.
    """
    thresholds = np.full(len(data.encoder.labels), 0.5) if data.task == "multilabel" else None

    def score(p: np.ndarray) -> float:
        return validation_metrics(data.task, data.y_valid, p, thresholds).get(sel, math.nan)

    probs = [
        decide_strands(m, data, score)
        if try_strands
        else m.predict_proba_sequences(data.valid.seqs, ids=data.valid.ids)
        for m in models
    ]
    if seed_bags is None:
        weights, best, singles = select_weights(probs, score)
    else:
        weights, best, singles = select_bagged_weights(probs, seed_bags, score)
    keep = [i for i, w in enumerate(weights) if w > 0]
    ensemble = EnsembleClassifier([models[i] for i in keep], [float(weights[i]) for i in keep])
    log.info(
        "auto: kept %s (validation %s %.4f; best single member %.4f)",
        ", ".join(f"{names[i]} x{weights[i]:.3f}{' (both strands)' if models[i].strands == 'both' else ''}"
                  for i in keep), sel, best, max(singles),
    )
    return ensemble, singles, weighted_average([probs[i] for i in keep], ensemble.weights)


def decide_strands(model: Classifier, data: LabelledData, score: Callable[[np.ndarray], float]) -> np.ndarray:
    """``model``'s validation probabilities ``(n_valid, C)``, after switching it to test-time
    reverse-complement averaging when that strictly raises ``score`` (DNA/RNA models only;
    oriented data such as splice sites keeps reading one strand). The two scores are kept in
    ``model.metadata["strands_validation"]``."""
    given = model.predict_proba_sequences(data.valid.seqs, ids=data.valid.ids)
    if model.strands == "both" or not model.tokenizer.alphabet.has_complement:
        return given
    both = model.predict_proba_sequences(data.valid.seqs, ids=data.valid.ids, both_strands=True)
    s_given, s_both = score(given), score(both)
    model.metadata["strands_validation"] = {"given": _finite(s_given), "both": _finite(s_both)}
    if not s_both > s_given:
        return given
    model.strands = "both"
    model.metadata["metrics"] = valid_metrics(model, data, both)
    return both


def _record_metadata(
    ensemble: EnsembleClassifier,
    trained: list[Candidate],
    scores: list[float],
    data: LabelledData,
    sel: str,
    cfg: TrainConfig,
    probs: np.ndarray,
) -> None:
    kept = {id(m): (i, w) for i, (m, w) in enumerate(zip(ensemble.members, ensemble.weights, strict=True))}
    candidates = []
    for c, s in zip(trained, scores, strict=True):
        member, weight = kept.get(id(c.model), (None, 0.0))
        candidates.append({
            "arch": c.arch, "seed": c.seed, "member": member, "weight": weight, "selection_score": _finite(s),
            "metrics": c.model.metadata.get("metrics", c.fit.best_metrics), "strands": c.model.strands,
            "strands_validation": c.model.metadata.get("strands_validation"),
            "best_epoch": c.fit.best_epoch, "stopped": c.fit.stopped,
            "max_time_min": c.max_time_min, "seconds": round(c.seconds, 3),
        })
    thresholds = None if ensemble.thresholds is None else np.asarray(ensemble.thresholds)
    metrics = {k: _finite(v) for k, v in validation_metrics(data.task, data.y_valid, probs, thresholds).items()}
    ensemble.metadata.update(
        data_fingerprint=dict(trained[0].model.metadata["data_fingerprint"]),
        label_counts=label_counts(data.train.labels),
        train_lengths=length_summary(data.train.seqs),
        selection_metric=sel,
        metrics=metrics,
        candidates=candidates,
        history=_combined_history(trained),
        stopped="auto",
        training={
            "mode": ENSEMBLE_ARCH, "max_time_min": cfg.max_time,
            "candidates": list(dict.fromkeys(c.arch for c in trained)),
            "budget_split": BUDGET_SPLIT, "selection": SELECTION, "seed": cfg.seed, "epochs": cfg.epochs,
            "patience": cfg.patience, "batch_size": cfg.batch_size, "seeds_per_net": seed_rounds(cfg),
        },
    )
    ensemble.refresh_fingerprint()


def _combined_history(trained: list[Candidate]) -> list[dict[str, Any]]:
    """The candidates' epoch records one after the other: ``epoch`` numbers the rows of the
    whole run, ``member`` and ``seed`` name the candidate and ``member_epoch`` is its own epoch."""
    rows = []
    for c in trained:
        for rec in c.fit.history:
            rows.append({
                **rec, "epoch": len(rows) + 1, "member": c.arch, "seed": c.seed, "member_epoch": rec.get("epoch"),
            })
    return rows


def _write_log(path: Any, history: list[dict[str, Any]]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        for rec in history:
            fh.write(json.dumps(rec) + "\n")
