"""One typed training configuration, built by the CLI, the Python API, the workflow and torchrun alike.

Every training option is a field of :class:`TrainConfig`, with its default and
its meaning written once, here. ``bioseq train`` builds one from its arguments,
``bioseq.train(..., **options)`` from keywords (an unknown keyword is a
:class:`~bioseq.errors.ConfigError` naming the known ones), the workflow calls
the CLI, and ``torchrun -m bioseq train --distributed`` goes through the CLI
too, so no list of parameters is written out twice.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bioseq.errors import ConfigError
from bioseq.io.formats import decoding_errors_named

# Small labelled sets (a few thousand sequences) need tens of epochs; early
# stopping ends most runs well before DEFAULT_EPOCHS (measured on splice_uci:
# best validation MCC after ~40 epochs at the cnn-lstm's lr of 3e-3).
DEFAULT_EPOCHS = 50
DEFAULT_PATIENCE = 10
LONG_INPUT_CHOICES = ("windows", "center", "truncate")


class _Options:
    """``from_options`` and ``replace``, shared by the configuration dataclasses."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Any:
        """A configuration from keyword options; an unknown key is a :class:`ConfigError` naming the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(f"unknown {cls.what} option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**options)

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    what = "training"


@dataclass
class TrainConfig(_Options):
    """How to train (what to train on is passed beside it).

    Attributes:
        arch: architecture name in :data:`bioseq.models.registry.MODELS`
            (``cnn-lstm``, ``transformer``, ``kmer-linear``, or a plugin's), or
            ``auto``: train ``candidates`` within ``max_time`` and keep the best
            single member or a weighted ensemble (:mod:`bioseq.training.auto`).
            None: ``cnn-lstm``, or with ``init`` the encoder's architecture.
        candidates: the architectures ``auto`` trains (None: kmer-linear,
            cnn-lstm, transformer, plus ``pretrained`` with ``init``); ignored otherwise.
        seeds_per_net: with ``auto``, how many seeds each net candidate trains (all
            of them are candidates for the ensemble). None: as many as ``max_time``
            allows up to :data:`bioseq.training.auto.MAX_SEEDS`, or 1 without ``max_time``.
        init: a pretrained encoder bundle (``bioseq pretrain``): the classifier starts
            from its trunk (new pooling and head); the tokenizer and architecture come
            from it, and a conflicting ``arch``/``k``/``stride``/``canonical``/``alphabet``
            is a :class:`ConfigError` (:mod:`bioseq.training.finetune`). With ``auto`` it
            adds the candidate ``pretrained``.
        freeze_encoder: with ``init``, keep the pretrained trunk fixed (train pooling and head only).
        unfreeze_after: with ``init``, keep the trunk fixed for this many epochs, then train it too.
        alphabet: ``dna`` | ``rna`` | ``protein``; None infers it from the data.
        k, stride, canonical: tokenizer overrides of the architecture's defaults.
        labels: label source for the reader (table path, dict, ``"filename"``);
            None reads ``label=`` tokens from FASTA headers.
        hparams: overrides of the architecture's hyper-parameters (typed by
            the defaults: see :func:`bioseq.models.registry.merge_hparams`);
            for ``auto`` a mapping candidate -> its overrides
            (``{"transformer": {"d_model": 64}}``).
        epochs, batch_size: optimisation length and batch size.
        lr: peak AdamW learning rate (linear warm-up + cosine); None takes the
            architecture's ``default_lr`` (else 1e-3).
        weight_decay: AdamW weight decay.
        label_smoothing: share of each target's probability spread evenly over all classes
            (Szegedy et al. 2016; for multilabel, each 0/1 target moves that far towards 1/2),
            for the torch nets; 0 (default): plain cross-entropy. Closed-form models ignore it.
        max_time: wall-clock budget of this call in **minutes**; training stops
            when it is spent, keeping the best weights so far (``auto`` splits
            it between the candidates).
        seed: seeds initialisation, the split, batch order, augmentation and
            dropout; CPU runs with one seed are bit-reproducible.
        patience: epochs without validation improvement before stopping (None: never).
        output: bundle path (``.safetensors``); its checkpoint is ``<output stem>.ckpt``.
        log: JSON-lines epoch log path.
        resume: continue from the checkpoint beside ``output``.
        threads: CPU threads for torch (None: torch's default).
        device: ``auto`` | ``cpu`` | ``cuda``.
        augment_rc: random reverse-complement strand per sample and epoch, for
            strand-symmetric DNA/RNA tasks (e.g. ChIP peaks). Off by default:
            most labelled sets (splice sites, promoters, UTRs) are oriented,
            and the strand is signal there (splice_uci validation MCC 0.49
            without, 0.39 with).
        test_time_rc: predict (and embed) by averaging each sequence with its
            reverse complement (the model's ``strands = "both"``), for DNA/RNA
            tasks where the strand carries no signal. Off by default. With
            ``auto`` it is offered to each DNA/RNA member, which takes it only
            if it raises the member's validation score (on ienhancer2l_enhancer
            that choice cost 0.02 test accuracy: hence opt-in).
        class_weight: ``"balanced"`` loss weights against class imbalance, or None.
        metric: early-stopping metric; ``auto``: ``mcc`` (``macro_auprc`` for multilabel).
        long_input: prediction-time policy for inputs over ``max_tokens``:
            ``windows`` | ``center`` | ``truncate``.
        progress: tqdm bar on stderr; None: only when stderr is a terminal.
        verbose: show the inferred settings (alphabet, task, held-out split...)
            and one line per epoch on stderr during the call. None (default):
            when nobody has configured logging for the ``bioseq`` logger (a
            plain script or notebook calling ``bioseq.train``), else leave it to
            that configuration (the CLI's, whose ``-q`` keeps warnings only);
            True: always, on a handler added for the call only; False: never
            add one. Nothing is left configured afterwards
            (:func:`bioseq.logs.verbose_logging`).
        distributed: join the torchrun process group (DDP; see
            :mod:`bioseq.training.distributed`).
    """

    arch: str | None = None
    candidates: tuple[str, ...] | None = None
    seeds_per_net: int | None = None
    init: str | os.PathLike[str] | None = None
    freeze_encoder: bool = False
    unfreeze_after: int | None = None
    alphabet: str | None = None
    k: int | None = None
    stride: int | None = None
    canonical: bool | None = None
    labels: Any = None
    hparams: Mapping[str, Any] | None = None
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = 64
    lr: float | None = None
    weight_decay: float = 0.01
    label_smoothing: float = 0.0
    max_time: float | None = None
    seed: int = 0
    patience: int | None = DEFAULT_PATIENCE
    output: str | os.PathLike[str] | None = None
    log: str | os.PathLike[str] | None = None
    resume: bool = False
    threads: int | None = None
    device: str = "auto"
    augment_rc: bool = False
    test_time_rc: bool = False
    class_weight: str | None = "balanced"
    metric: str = "auto"
    long_input: str = "windows"
    progress: bool | None = None
    verbose: bool | None = None
    distributed: bool = False

    def __post_init__(self) -> None:
        if self.arch is None and self.init is None:
            self.arch = "cnn-lstm"
        check_run_options(self)
        if (self.freeze_encoder or self.unfreeze_after is not None) and self.init is None:
            raise ConfigError("freeze_encoder / unfreeze_after apply to a pretrained trunk: give init (--init)")
        if self.freeze_encoder and self.unfreeze_after is not None:
            raise ConfigError("give freeze_encoder (trunk fixed throughout) or unfreeze_after N, not both")
        if self.unfreeze_after is not None and self.unfreeze_after < 1:
            raise ConfigError(f"unfreeze_after counts epochs with the trunk fixed: >= 1, got {self.unfreeze_after}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if self.long_input not in LONG_INPUT_CHOICES:
            raise ConfigError(
                f"unknown long-input policy {self.long_input!r}; choose one of {', '.join(LONG_INPUT_CHOICES)}"
            )
        self.augment_rc = bool(self.augment_rc)
        self.test_time_rc = bool(self.test_time_rc)
        if self.candidates is not None:
            if isinstance(self.candidates, str):
                self.candidates = tuple(c.strip() for c in self.candidates.split(",") if c.strip())
            self.candidates = tuple(self.candidates)
            if not self.candidates:
                raise ConfigError("candidates must name at least one architecture")
            if self.arch != "auto":  # bioseq.models.ensemble.ENSEMBLE_ARCH
                raise ConfigError(f"candidates are for arch auto; arch {self.arch!r} trains itself only")
        if self.seeds_per_net is not None:
            if self.arch != "auto":
                raise ConfigError(f"seeds_per_net is for arch auto; arch {self.arch!r} trains one seed (--seed)")
            if int(self.seeds_per_net) != self.seeds_per_net or self.seeds_per_net < 1:
                raise ConfigError(f"seeds_per_net must be a whole number >= 1, got {self.seeds_per_net!r}")
            self.seeds_per_net = int(self.seeds_per_net)


def check_run_options(cfg: Any) -> None:
    """The checks shared by :class:`TrainConfig` and :class:`PretrainConfig` (same field names)."""
    if cfg.epochs < 1 or cfg.batch_size < 1 or (cfg.lr is not None and cfg.lr <= 0):
        raise ConfigError(
            f"need epochs >= 1, batch_size >= 1 and lr > 0 (got {cfg.epochs}, {cfg.batch_size}, {cfg.lr})"
        )
    if cfg.max_time is not None and cfg.max_time <= 0:
        raise ConfigError(f"max_time must be > 0 minutes, got {cfg.max_time}")
    if cfg.resume and cfg.output is None:
        raise ConfigError("resume needs an output path: the checkpoint lives beside the bundle")


OBJECTIVES = ("mlm",)
DEFAULT_PRETRAIN_EPOCHS = 20


@dataclass
class PretrainConfig(_Options):
    """How to pretrain an encoder by masked-token modelling (:mod:`bioseq.training.pretrain`).

    The fields shared with :class:`TrainConfig` (``alphabet``, ``k``, ``stride``,
    ``canonical``, ``hparams``, ``epochs``, ``batch_size``, ``lr``, ``weight_decay``,
    ``max_time``, ``seed``, ``patience``, ``output``, ``log``, ``resume``, ``threads``,
    ``device``, ``augment_rc``, ``progress``, ``verbose``, ``distributed``) mean the
    same there and here; early stopping watches the masked-token loss on the
    held-out windows.

    Attributes:
        arch: ``transformer`` or ``cnn-lstm`` (any torch registry architecture whose net is
            a :class:`~bioseq.models.network.SequenceNet`).
        objective: ``mlm``: masked spans of k-mer tokens (:mod:`bioseq.data.masking`).
        mask_rate: share of each sequence's tokens predicted (BERT: 0.15).
        valid_fraction: share of the windows held out to score the objective
            (at most :data:`bioseq.training.pretrain.MAX_VALID` windows).
    """

    arch: str = "transformer"
    objective: str = "mlm"
    alphabet: str | None = None
    k: int | None = None
    stride: int | None = None
    canonical: bool | None = None
    hparams: Mapping[str, Any] | None = None
    mask_rate: float = 0.15
    valid_fraction: float = 0.02
    epochs: int = DEFAULT_PRETRAIN_EPOCHS
    batch_size: int = 64
    lr: float | None = None
    weight_decay: float = 0.01
    max_time: float | None = None
    seed: int = 0
    patience: int | None = 3
    output: str | os.PathLike[str] | None = None
    log: str | os.PathLike[str] | None = None
    resume: bool = False
    threads: int | None = None
    device: str = "auto"
    augment_rc: bool = False
    progress: bool | None = None
    verbose: bool | None = None
    distributed: bool = False

    what = "pretraining"

    def __post_init__(self) -> None:
        check_run_options(self)
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"unknown pretraining objective {self.objective!r}; choose one of {', '.join(OBJECTIVES)}"
            )
        if not 0.0 < self.mask_rate < 1.0:
            raise ConfigError(f"mask_rate must be between 0 and 1, got {self.mask_rate}")
        if not 0.0 < self.valid_fraction < 1.0:
            raise ConfigError(f"valid_fraction must be between 0 and 1, got {self.valid_fraction}")
        self.augment_rc = bool(self.augment_rc)


def load_hparams(value: str | None) -> dict[str, Any] | None:
    """Hyper-parameter overrides from inline JSON (``'{"d_model": 128}'``) or a JSON/YAML file."""
    if value is None:
        return None
    text = value.strip()
    source = "--hparams"
    if not text.startswith("{"):
        path = Path(value)
        if not path.is_file():
            raise ConfigError(f"--hparams {value!r} is neither a JSON object nor an existing file")
        with decoding_errors_named(path, "a JSON/YAML hyper-parameter file"):
            text, source = path.read_text(encoding="utf-8"), str(path)
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            try:
                obj = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ConfigError(f"invalid YAML: {exc}", path=path) from None
            return _check_mapping(obj, source)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: invalid JSON ({exc})") from None
    return _check_mapping(obj, source)


def _check_mapping(obj: Any, source: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ConfigError(f"{source} must hold a JSON/YAML object (key: value), got {type(obj).__name__}")
    return obj
