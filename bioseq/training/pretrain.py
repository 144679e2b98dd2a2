"""``bioseq pretrain``: masked-token pretraining of a trunk on unlabelled sequences.

Unlabelled sequence is plentiful where labels are scarce; a trunk that has
learned to fill in masked k-mers from their context starts fine-tuning
(``bioseq train --init``, :mod:`bioseq.training.finetune`) from features of
the sequence instead of noise (DNABERT, Ji et al. 2021; BERT, Devlin et al. 2019).

Objective (``mlm``): about 15 % of each window's tokens, chosen as contiguous
spans long enough that overlapping k-mers cannot spell them out
(:mod:`bioseq.data.masking`), are replaced (80 % ``MASK``, 10 % random k-mers,
10 % kept, per span) and predicted by :class:`~bioseq.models.encoder.MaskedTokenHead`
from the trunk's per-position output; the loss is the cross-entropy over the
chosen positions only.

Data: any number of inputs (FASTA/FASTQ/GenBank/EMBL files, ``-``, in-memory
records, or the records of ``--regions`` on a genome), read in chunks through
:func:`bioseq.io.sources.iter_source`; no text is kept: each chunk is
tokenised at once and cut into windows of at most ``max_tokens`` tokens
(uint16/uint32 ids, 2-4 bytes per token, in memory because every epoch
shuffles them). A seeded share (``valid_fraction``, at most :data:`MAX_VALID`)
of the windows is held out; each epoch's validation masks them identically,
so epochs compare. Every input's sha256 (over ``id\\tseq\\t\\n`` per record, as
training fingerprints its data), record and letter counts are stored in the
encoder bundle under ``pretrain_data``.

The optimisation is :func:`bioseq.training.loop.fit_torch` with
:class:`MaskedTokenObjective` in place of the classifier's: the same AdamW
schedule, ``max_time`` budget, checkpoint beside the output and ``resume``,
seeds, progress bar, epoch log and DDP under torchrun (``--distributed``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bioseq.bundle import save_bundle
from bioseq.data.batching import collate
from bioseq.data.masking import IGNORE, MASK_RATE, mask_batch, min_span
from bioseq.device import autocast, resolve_device, set_threads
from bioseq.errors import BioseqError, ConfigError, EmptyInputError
from bioseq.io.sources import RECORDS, describe_source, is_path_like, iter_source, rereadable
from bioseq.logs import verbose_logging
from bioseq.models.encoder import PretrainedEncoder
from bioseq.models.registry import get_model, resolve_hparams
from bioseq.tokenize.kmer import KmerTokenizer
from bioseq.training.checkpoint import checkpoint_path
from bioseq.training.config import PretrainConfig
from bioseq.training.data import resolve_alphabet
from bioseq.training.distributed import maybe_process_group
from bioseq.training.loop import (
    LOSS_METRIC,
    DistContext,
    FitResult,
    LoopConfig,
    TrainTensors,
    ValidTensors,
    _sum_ranks,
    fit_torch,
)

log = logging.getLogger("bioseq.training")

MAX_VALID = 5000  # held-out windows at most: scoring them costs time every epoch
READ_CHUNK = 2048
ENCODE_LETTERS = 1 << 22  # padded letters per tokenizer call (a longer record is encoded alone)
VALID_MASK_SEED = 7  # the validation masks' stream, fixed for the whole run
DEFAULT_LR = 1e-3


@dataclass
class Corpus:
    """Token windows of every input, and what each input was.

    Attributes:
        windows: 1-D token arrays, each ``1..max_tokens`` long.
        rc_windows: the reverse strand's windows, parallel to ``windows`` (same lengths), or None.
        inputs: one dict per input: ``source``, ``sha256``, ``n_records``, ``n_letters``,
            ``n_windows``, ``n_too_short`` (records with fewer than k letters, skipped).
    """

    windows: list[np.ndarray] = field(default_factory=list)
    rc_windows: list[np.ndarray] | None = None
    inputs: list[dict[str, Any]] = field(default_factory=list)


def split_inputs(inputs: Any) -> list[Any]:
    """One entry per input to fingerprint: a list of files becomes its files; anything else is one input."""
    if isinstance(inputs, (list, tuple)) and inputs and is_path_like(list(inputs)):
        return list(inputs)
    return [inputs]


def cut_windows(tokens: np.ndarray, max_tokens: int) -> list[np.ndarray]:
    """``tokens (T,)`` cut into consecutive windows of ``max_tokens`` (the last may be shorter);
    a window of a token array is a window of the sequence at a stride-aligned start."""
    return [tokens[i : i + max_tokens].copy() for i in range(0, len(tokens), max_tokens)]


def _encode_windows(tokenizer: KmerTokenizer, seqs: list[str], ids: list[str], max_tokens: int) -> list[np.ndarray]:
    """The windows of ``seqs`` (in no particular order). Records are encoded in length-sorted groups
    of at most :data:`ENCODE_LETTERS` padded letters, so one chromosome among short reads is encoded
    alone instead of padding every read of its chunk to its length."""
    lens = np.fromiter(map(len, seqs), np.int64, len(seqs))
    order = np.argsort(lens, kind="stable")
    out: list[np.ndarray] = []
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and (end + 1 - start) * lens[order[end]] <= ENCODE_LETTERS:
            end += 1
        group = order[start:end]
        mat, lengths = tokenizer.encode_batch([seqs[i] for i in group], ids=[ids[i] for i in group])
        for row, n in zip(mat, lengths, strict=True):
            out += cut_windows(row[: int(n)], max_tokens)
        start = end
    return out


def read_corpus(sources: list[Any], tokenizer: KmerTokenizer, max_tokens: int, rc: bool = False) -> Corpus:
    """Stream every input of ``sources`` (:func:`split_inputs`) once: fingerprint, tokenise, cut into
    windows (module docstring).

    Raises:
        EmptyInputError: an input without records, or no record long enough for one k-mer (named).
        AlphabetError: a letter outside the alphabet (naming the file and record).
    """
    corpus = Corpus(rc_windows=[] if rc else None)
    alphabet = tokenizer.alphabet
    for src in sources:
        where = describe_source(src) or RECORDS
        h, info = hashlib.sha256(), {"source": where, "n_records": 0, "n_letters": 0, "n_windows": 0, "n_too_short": 0}
        for chunk in _chunks(src, alphabet.name, where):
            for rid, seq in zip(chunk.ids, chunk.seqs, strict=True):
                h.update(f"{rid}\t{seq}\t\n".encode())
            keep = [i for i, s in enumerate(chunk.seqs) if len(s) >= tokenizer.k]
            info["n_records"] += len(chunk.ids)
            info["n_letters"] += sum(map(len, chunk.seqs))
            info["n_too_short"] += len(chunk.ids) - len(keep)
            seqs, ids = [chunk.seqs[i] for i in keep], [chunk.ids[i] for i in keep]
            try:
                wins = _encode_windows(tokenizer, seqs, ids, max_tokens)
                if corpus.rc_windows is not None:
                    rc_seqs = [alphabet.reverse_complement(s) for s in seqs]
                    corpus.rc_windows += _encode_windows(tokenizer, rc_seqs, ids, max_tokens)
            except BioseqError as exc:  # the tokenizer knows the record, not the file
                raise exc.located(where) from None
            corpus.windows += wins
            info["n_windows"] += len(wins)
        info["sha256"] = h.hexdigest()
        if not info["n_windows"]:
            raise EmptyInputError(f"no record of at least k={tokenizer.k} letters to pretrain on", path=where)
        corpus.inputs.append(info)
    return corpus


def _chunks(src: Any, alphabet: str, where: str) -> Iterator[Any]:
    try:
        yield from iter_source(src, READ_CHUNK, alphabet=alphabet, labels=False)
    except BioseqError as exc:
        raise exc.located(where) from None


class MaskedTokenObjective:
    """The loop's objective for masked-token pretraining (see :class:`~bioseq.training.loop.ClassifierObjective`).

    ``batch_loss``: the batch's windows padded (``(B, T)``), span-masked with the epoch's
    generator, logits ``(B, T, V)``, cross-entropy over the chosen positions.
    ``evaluate``: the same on the held-out windows with masks drawn from a fixed seed, so
    every epoch is scored on the same corruption; returns ``(loss, {"masked_accuracy": ...})``.
    """

    metric = LOSS_METRIC  # the masked-token cross-entropy: smoother than the accuracy of a few thousand tokens
    task = "mlm"

    def __init__(self, encoder: PretrainedEncoder, rate: float, seed: int) -> None:
        tok = encoder.tokenizer
        self.span, self.vocab, self.rate, self.seed = min_span(tok.k, tok.stride), tok.vocab_size, rate, seed
        self.device = encoder.device

    def _loss_sums(self, net: Any, toks: list[np.ndarray], rng: np.random.Generator) -> tuple[torch.Tensor, int, int]:
        """``(summed loss, correct predictions, predicted positions)`` of one batch."""
        ids, mask = collate(toks)
        mb = mask_batch(ids.numpy(), mask.sum(dim=1).numpy(), span=self.span, vocab_size=self.vocab, rng=rng,
                        rate=self.rate)
        targets = torch.from_numpy(mb.targets).to(self.device)
        with autocast(self.device):
            logits = net(torch.from_numpy(mb.inputs).to(self.device), mask.to(self.device))
        logits = logits.float().reshape(-1, logits.shape[-1])
        loss = F.cross_entropy(logits, targets.reshape(-1), ignore_index=IGNORE, reduction="sum")
        chosen = targets.reshape(-1) != IGNORE
        correct = int((logits.argmax(dim=-1)[chosen] == targets.reshape(-1)[chosen]).sum())
        return loss, correct, int(chosen.sum())

    def batch_loss(self, runner: Any, toks: list[np.ndarray], batch: list[int], rng: Any) -> torch.Tensor:
        loss, _, n = self._loss_sums(runner, toks, rng)
        return loss / max(1, n)

    def evaluate(
        self, model: Any, valid: ValidTensors, batch_size: int, dist_ctx: DistContext
    ) -> tuple[float, dict[str, float]]:
        idx = np.arange(len(valid.tokens))[dist_ctx.rank :: dist_ctx.world_size]
        idx = idx[np.argsort([len(valid.tokens[i]) for i in idx], kind="stable")]
        rng = np.random.default_rng([self.seed, VALID_MASK_SEED, dist_ctx.rank])
        loss_sum, correct, n = 0.0, 0, 0
        model.net.eval()
        with torch.no_grad():
            for start in range(0, len(idx), batch_size):
                loss, c, m = self._loss_sums(model.net, [valid.tokens[i] for i in idx[start : start + batch_size]], rng)
                loss_sum, correct, n = loss_sum + float(loss), correct + c, n + m
        loss_sum, correct, n = _sum_ranks([loss_sum, float(correct), float(n)], dist_ctx, self.device)
        return loss_sum / max(1.0, n), {"masked_accuracy": correct / max(1.0, n)}


def pretrain(inputs: Any, *, config: PretrainConfig | None = None, **options: Any) -> PretrainedEncoder:
    """Pretrain an encoder on unlabelled sequences and (with ``output``) write its bundle.

    Args:
        inputs: a path, a list of paths (each fingerprinted on its own), ``"-"``, or
            in-memory records/sequences (:func:`bioseq.io.sources.iter_source`); labels are ignored.
        config: a :class:`~bioseq.training.config.PretrainConfig`; ``options`` override its fields.
        **options: any field of :class:`~bioseq.training.config.PretrainConfig` (``arch``,
            ``max_time``, ``output``, ``resume``, ...); an unknown name is a :class:`ConfigError`.

    Returns:
        The :class:`~bioseq.models.encoder.PretrainedEncoder` with the weights of its best
        validation epoch (fine-tune it with ``bioseq.train(..., init=PATH)``).
    """
    cfg = config.replace(**options) if config is not None else PretrainConfig.from_options(options)
    with verbose_logging(cfg.verbose), maybe_process_group(cfg.distributed, cfg.device) as (dist_ctx, device):
        return _pretrain(inputs, cfg, dist_ctx, device)


def _new_encoder(arch: str, alphabet: str, cfg: PretrainConfig, device: Any) -> PretrainedEncoder:
    """An untrained encoder: the architecture's tokenizer and hyper-parameters with the overrides."""
    arch_cls = get_model(arch)
    if arch_cls.kind != "torch":
        raise ConfigError(f"architecture {arch!r} is of kind {arch_cls.kind!r}: pretrain a torch net "
                          "(transformer or cnn-lstm)")
    tok_kwargs = dict(arch_cls.default_tokenizer(alphabet))
    tok_kwargs.update({k: getattr(cfg, k) for k in ("k", "stride", "canonical") if getattr(cfg, k) is not None})
    tokenizer = KmerTokenizer(alphabet=alphabet, **tok_kwargs)
    hp = resolve_hparams(arch_cls, alphabet, cfg.hparams)
    torch.manual_seed(cfg.seed)
    return PretrainedEncoder.create(arch, tokenizer, hp).to(resolve_device(device))


def _pretrain(inputs: Any, cfg: PretrainConfig, dist_ctx: DistContext, device: Any) -> PretrainedEncoder:
    t_begin = time.monotonic()
    set_threads(cfg.threads)
    sources = [rereadable(src) for src in split_inputs(inputs)]  # a generator is read twice: listed
    alphabet = resolve_alphabet(sources[0], cfg.alphabet)
    encoder = _new_encoder(cfg.arch, alphabet, cfg, device)
    max_tokens = int(encoder.hparams.get("max_tokens") or 512)
    corpus = read_corpus(sources, encoder.tokenizer, max_tokens, rc=cfg.augment_rc)
    train_idx, valid_idx = _split(len(corpus.windows), cfg)
    windows = corpus.windows
    rc = corpus.rc_windows  # same lengths as the forward windows: a strand has as many k-mers as the other
    if dist_ctx.is_main:
        log.info(
            "pretraining %s (%s) on %d windows of <= %d tokens from %d input(s) (%d held out); tokenizer %s; "
            "masking %.0f%% in spans of >= %d tokens", cfg.arch, encoder.device, len(train_idx), max_tokens,
            len(corpus.inputs), len(valid_idx), encoder.tokenizer.config(), 100 * cfg.mask_rate,
            min_span(encoder.tokenizer.k, encoder.tokenizer.stride),
        )
    fit = fit_torch(
        encoder,
        TrainTensors([windows[i] for i in train_idx], None if rc is None else [rc[i] for i in train_idx]),
        ValidTensors([windows[i] for i in valid_idx], np.arange(len(valid_idx)), None, len(valid_idx)),
        _loop_config(cfg, encoder, max_tokens),
        log_path=cfg.log,
        checkpoint=None if cfg.output is None else checkpoint_path(cfg.output),
        resume=cfg.resume,
        run_config=_run_config(cfg, encoder, corpus, dist_ctx),
        dist_ctx=dist_ctx,
        objective=MaskedTokenObjective(encoder, cfg.mask_rate, cfg.seed),
    )
    _record_metadata(encoder, cfg, corpus, fit, (len(train_idx), len(valid_idx)), dist_ctx, t_begin)
    if cfg.output is not None and dist_ctx.is_main:
        save_bundle(encoder, cfg.output)
        log.info("wrote %s (held-out masked-token accuracy %s)", cfg.output, fit.best_metrics.get("masked_accuracy"))
    return encoder


def _split(n: int, cfg: PretrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Seeded ``(train, held-out)`` window indices, each sorted."""
    if n < 2:
        raise EmptyInputError(f"{n} window(s) to pretrain on: need at least 2 (one is held out)")
    n_valid = int(min(MAX_VALID, max(1, round(cfg.valid_fraction * n))))
    order = np.random.default_rng([cfg.seed, 11]).permutation(n)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def _loop_config(cfg: PretrainConfig, encoder: PretrainedEncoder, max_tokens: int) -> LoopConfig:
    arch_lr = getattr(get_model(cfg.arch), "default_lr", DEFAULT_LR)
    return LoopConfig(
        epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr or float(arch_lr), weight_decay=cfg.weight_decay,
        patience=cfg.patience, seed=cfg.seed, max_time_min=cfg.max_time, augment_rc=cfg.augment_rc,
        max_tokens=max_tokens, metric=MaskedTokenObjective.metric, progress=cfg.progress,
    )


def _run_config(cfg: PretrainConfig, encoder: PretrainedEncoder, corpus: Corpus, dist_ctx: DistContext) -> dict:
    """What identifies the run: a checkpoint of another run is refused on resume."""
    return {
        "objective": cfg.objective, "arch": cfg.arch, "tokenizer": encoder.tokenizer.config(),
        "hparams": encoder.hparams, "mask_rate": cfg.mask_rate, "valid_fraction": cfg.valid_fraction,
        "seed": cfg.seed, "batch_size": cfg.batch_size, "lr": cfg.lr, "weight_decay": cfg.weight_decay,
        "augment_rc": cfg.augment_rc, "data": [d["sha256"] for d in corpus.inputs], "world_size": dist_ctx.world_size,
    }


def _record_metadata(
    encoder: PretrainedEncoder, cfg: PretrainConfig, corpus: Corpus, fit: FitResult, sizes: tuple[int, int],
    dist_ctx: DistContext, t_begin: float,
) -> None:
    tok = encoder.tokenizer
    encoder.metadata.update(
        objective=cfg.objective,
        masking={"rate": cfg.mask_rate, "min_span": min_span(tok.k, tok.stride), "replace": "80% mask, 10% random, "
                 "10% keep, per span", "default_rate": MASK_RATE},
        pretrain_data=corpus.inputs,
        n_windows={"train": sizes[0], "valid": sizes[1]},
        metrics=fit.best_metrics,
        best_epoch=fit.best_epoch,
        stopped=fit.stopped,
        history=fit.history,
        training={
            "epochs": cfg.epochs, "batch_size": cfg.batch_size, "lr": cfg.lr, "weight_decay": cfg.weight_decay,
            "seed": cfg.seed, "patience": cfg.patience, "max_time_min": cfg.max_time, "augment_rc": cfg.augment_rc,
            "device": str(encoder.device), "world_size": dist_ctx.world_size, "optimizer": "AdamW",
            "schedule": "linear warm-up (5%) + cosine to 5%", "seconds": round(time.monotonic() - t_begin, 1),
        },
    )
    encoder.refresh_fingerprint()

