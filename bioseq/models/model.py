"""The high-level :class:`Model`: what ``bioseq.train`` returns and ``bioseq.load`` loads.

A Model ties together an architecture's net (a torch ``nn.Module`` or the
kmer-linear baseline), the tokenizer it was trained with, the label names and
the task, and answers the questions users ask of a classifier: class
probabilities and pooled embeddings for sequences, predictions for a file.

Long inputs (torch nets): a sequence with more tokens than ``max_tokens`` is
handled by the bundle's ``long_input`` policy (:mod:`bioseq.data.windows`):
``windows`` (default) scores overlapping windows and averages their
probabilities (embeddings: mean over windows); ``truncate`` keeps the start;
``center`` the middle. ``both_strands=True`` (DNA/RNA) also scores the
reverse complement and averages the two strands.

Inference runs under ``torch.inference_mode()`` in eval mode (the previous
train/eval mode is restored afterwards) with sequences sorted by length so
batches carry little padding; outputs come back in input order.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bioseq.alphabets import get_alphabet
from bioseq.errors import AlphabetError, BundleError, ConfigError, PluginError

LONG_INPUT_POLICIES = ("windows", "truncate", "center")


@dataclass
class Predictions:
    """Predictions for a set of records, in input order.

    Attributes:
        ids: record ids, ``n``.
        probs: float32 ``(n, C)``; column ``j`` is the probability of ``labels[j]``.
        predicted: predicted label per record (multilabel: comma-separated
            labels at or above their threshold, ``""`` when none).
        labels: class names, ``C``.
    """

    ids: list[str]
    probs: np.ndarray
    predicted: list[str]
    labels: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def get_arch(name: str) -> Any:
    """The architecture class registered as ``name`` (raises :class:`PluginError` naming installed ones)."""
    from bioseq.models.registry import MODELS

    return MODELS.get(name)


def build_net(arch: Any, vocab_size: int, n_classes: int, hparams: dict, tokenizer: Any) -> Any:
    """Call ``arch.build`` with the tokenizer when the plugin's signature takes one."""
    try:
        params = inspect.signature(arch.build).parameters
    except (TypeError, ValueError):
        params = {}
    if "tokenizer" in params or len(params) >= 4:
        return arch.build(vocab_size, n_classes, hparams, tokenizer)
    return arch.build(vocab_size, n_classes, hparams)


def default_long_input(hparams: dict, kind: str, tokenizer: Any, policy: str = "windows") -> dict:
    """The long-input policy stored in the bundle (torch nets only; kmer-linear takes any length).

    ``max_bases`` is what ``max_tokens`` tokens cover; ``windows`` overlap by half a window.
    """
    if kind != "torch" or not hparams.get("max_tokens"):
        return {"policy": "none"}
    from bioseq.data.windows import LONG_POLICIES, max_bases

    if policy not in LONG_POLICIES:
        raise ConfigError(f"unknown long-input policy {policy!r}; choose one of {', '.join(LONG_POLICIES)}")
    m = int(hparams["max_tokens"])
    span = max_bases(m, tokenizer.k, tokenizer.stride)
    return {
        "policy": policy,
        "max_tokens": m,
        "max_bases": span,
        "overlap": span // 2 if policy == "windows" else 0,
    }


class Model:
    """A trained classifier with its tokenizer, labels and task.

    Attributes:
        arch: architecture name (registry key), e.g. ``"cnn-lstm"``.
        kind: ``"torch"`` or ``"sklearn"``.
        net: the ``nn.Module`` (torch) or the kmer-linear estimator.
        tokenizer: the :class:`~bioseq.tokenize.kmer.KmerTokenizer` used in training.
        labels: class names; column order of every probability matrix.
        task: ``binary`` | ``multiclass`` | ``multilabel``.
        hparams: the architecture's hyper-parameters.
        thresholds: per-label decision thresholds (multilabel; 0.5 by default).
        long_input: the long-input policy dict (see the module docstring).
        metadata: everything else stored in the bundle (history, metrics, ...).
    """

    def __init__(
        self,
        *,
        arch: str,
        kind: str,
        net: Any,
        tokenizer: Any,
        labels: Sequence[str],
        task: str,
        hparams: dict,
        thresholds: Sequence[float] | None = None,
        long_input: dict | None = None,
        metadata: dict | None = None,
        device: Any = "cpu",
    ) -> None:
        self.arch = arch
        self.kind = kind
        self.net = net
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.task = task
        self.hparams = dict(hparams)
        self.thresholds = (
            [float(t) for t in thresholds]
            if thresholds is not None
            else ([0.5] * len(self.labels) if task == "multilabel" else None)
        )
        self.long_input = (
            dict(long_input) if long_input is not None else default_long_input(self.hparams, kind, tokenizer)
        )
        self.metadata = dict(metadata or {})
        self._fingerprint: str | None = None
        self._fingerprint_key = ""
        self.device = self._to_device(device)

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls, arch: str, tokenizer: Any, labels: Sequence[str], task: str, hparams: dict, device: Any = "cpu"
    ) -> Model:
        """A new untrained model (torch weights initialised from the current torch RNG)."""
        arch_cls = get_arch(arch)
        n = len(labels)
        if arch_cls.kind == "torch":
            net = build_net(arch_cls, tokenizer.vocab_size, n, hparams, tokenizer)
        else:
            net = arch_cls(tokenizer, n, hparams, task)
        return cls(
            arch=arch,
            kind=arch_cls.kind,
            net=net,
            tokenizer=tokenizer,
            labels=labels,
            task=task,
            hparams=hparams,
            device=device,
        )

    @classmethod
    def from_arrays(cls, info: dict, tensors: dict[str, np.ndarray], device: Any = "cpu") -> Model:
        """Rebuild a model from bundle metadata and weights (see :func:`bioseq.bundle.load`).

        Raises:
            BundleError: unknown architecture, bad tokenizer config, or weights
                that do not fit the architecture.
        """
        from bioseq.models.registry import MODELS
        from bioseq.tokenize.registry import tokenizer_from_config

        try:
            arch_cls = get_arch(info["arch"])
        except PluginError as exc:
            raise BundleError(
                f"unknown architecture {info['arch']!r} (installed: {', '.join(MODELS.names()) or 'none'}); "
                f"install the plugin that provides it ({exc.message})"
            ) from None
        if arch_cls.kind != info["kind"]:
            raise BundleError(
                f"architecture {info['arch']!r} is of kind {arch_cls.kind!r}, the bundle says {info['kind']!r}"
            )
        try:
            tokenizer = tokenizer_from_config(info["tokenizer"])
        except Exception as exc:
            raise BundleError(f"invalid tokenizer configuration: {exc}") from None
        labels, task, hparams = list(info["labels"]), info["task"], dict(info["hparams"])
        try:
            model = cls(
                arch=info["arch"],
                kind=info["kind"],
                net=None,
                tokenizer=tokenizer,
                labels=labels,
                task=task,
                hparams=hparams,
                thresholds=info.get("thresholds"),
                long_input=info.get("long_input"),
                metadata=info,
            )
            if info["kind"] == "torch":
                model.net = build_net(arch_cls, tokenizer.vocab_size, len(labels), hparams, tokenizer)
            else:
                model.net = arch_cls(tokenizer, len(labels), hparams, task)
            model.load_state_arrays(tensors)
        except BundleError:
            raise
        except Exception as exc:
            raise BundleError(
                f"the weights do not match architecture {info['arch']!r} with the stored hyper-parameters: {exc}"
            ) from None
        model.device = model._to_device(device)
        return model

    # ------------------------------------------------------------------ weights and config
    def state_arrays(self) -> dict[str, np.ndarray]:
        """Weights as numpy arrays (float32 for floating point), as stored in the bundle."""
        if self.kind != "torch":
            return {k: np.asarray(v) for k, v in self.net.state_dict().items()}
        import torch

        out = {}
        for k, v in self.net.state_dict().items():
            t = v.detach().cpu()
            if t.is_floating_point() and t.dtype != torch.float32:
                t = t.float()
            out[k] = t.contiguous().numpy().copy()
        return out

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Set the weights from numpy arrays (strict: names and shapes must match)."""
        self._fingerprint = None
        if self.kind != "torch":
            self.net.load_state_dict(dict(arrays))
            return
        import torch

        self.net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}, strict=True)

    def config(self) -> dict[str, Any]:
        """The prediction-relevant configuration (what the fingerprint covers)."""
        from bioseq.bundle import FORMAT_NAME

        return {
            "format": FORMAT_NAME,
            "arch": self.arch,
            "kind": self.kind,
            "hparams": self.hparams,
            "tokenizer": self.tokenizer.config(),
            "alphabet": self.alphabet,
            "labels": self.labels,
            "task": self.task,
            "thresholds": self.thresholds,
            "long_input": self.long_input,
        }

    @property
    def fingerprint(self) -> str:
        """sha256 hex of weights + configuration; identifies the model for caches.

        Cached; recomputed when the configuration (labels, thresholds, ...) changes or
        weights are set through :meth:`load_state_arrays`. After changing ``net``'s
        weights in place, call :meth:`refresh_fingerprint`.
        """
        from bioseq.bundle import canonical_json, compute_fingerprint

        cfg = self.config()
        key = canonical_json(cfg)
        if self._fingerprint is None or self._fingerprint_key != key:
            self._fingerprint = compute_fingerprint(self.state_arrays(), cfg)
            self._fingerprint_key = key
        return self._fingerprint

    def refresh_fingerprint(self) -> str:
        """Recompute :attr:`fingerprint` (after the weights were changed in place)."""
        self._fingerprint = None
        return self.fingerprint

    @property
    def alphabet(self) -> str:
        """Alphabet name of the tokenizer (``dna``, ``rna``, ``protein``)."""
        a = getattr(self.tokenizer, "alphabet", None)
        if a is None:
            a = self.tokenizer.config()["alphabet"]
        return get_alphabet(a).name

    @property
    def embedding_dim(self) -> int:
        return int(self.net.embedding_dim)

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the bundle (one safetensors file, atomically)."""
        from bioseq.bundle import save_bundle

        save_bundle(self, path)

    def to(self, device: Any) -> Model:
        self.device = self._to_device(device)
        return self

    def _to_device(self, device: Any) -> Any:
        if self.kind != "torch" or self.net is None:
            return device
        from bioseq.device import resolve_device

        dev = resolve_device(device)
        self.net.to(dev)
        return dev

    def __repr__(self) -> str:
        return (
            f"Model(arch={self.arch!r}, task={self.task!r}, labels={self.labels!r}, "
            f"alphabet={self.alphabet!r}, fingerprint={self.fingerprint[:12]!r})"
        )

    # ------------------------------------------------------------------ inference on sequences
    def predict_proba_sequences(
        self,
        seqs: Sequence[str],
        batch_size: int = 256,
        both_strands: bool = False,
        ids: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Class probabilities, float32 ``(n, C)`` in input order.

        Args:
            seqs: upper-case sequences in the model's alphabet.
            batch_size: sequences (windows) per forward pass.
            both_strands: average with the reverse complement (DNA/RNA only).
            ids: record ids, only used to name the record in error messages.
        """
        return self._run(seqs, batch_size, both_strands, ids, output="probs")

    def embed_sequences(
        self,
        seqs: Sequence[str],
        batch_size: int = 256,
        both_strands: bool = False,
        ids: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Pooled embeddings (the head's input), float32 ``(n, embedding_dim)``; long
        inputs: mean over windows."""
        return self._run(seqs, batch_size, both_strands, ids, output="features")

    def embed_positions(
        self, seqs: Sequence[str], batch_size: int = 64, ids: Sequence[str] | None = None
    ) -> list[np.ndarray]:
        """Per-position embeddings of short inputs: one float32 array ``(T_i, D)`` per
        sequence, the trunk's output before pooling (``D`` is the trunk's width:
        ``embedding_dim`` for the Transformer, half of it for the CNN-LSTM's
        mean+max pooling).

        ``T_i`` is the number of positions the trunk keeps: tokens for the
        Transformer (CLS dropped), pooled convolution steps for the CNN-LSTM
        (``ceil(L / prod(pool_sizes))``). Inputs longer than the model's maximum
        are refused rather than windowed, since windows would not join into one
        per-position track. Not available for ``kmer-linear`` (no positions).
        """
        import torch

        from bioseq.data.batching import collate

        if self.kind != "torch" or not hasattr(self.net, "trunk"):
            raise ConfigError(f"per-position embeddings need a neural trunk; {self.arch!r} has none")
        seqs = list(seqs)
        tokens = [self.tokenizer.encode(s, record_id=None if ids is None else ids[i]) for i, s in enumerate(seqs)]
        limit = self.hparams.get("max_tokens")
        for i, t in enumerate(tokens):
            if limit and len(t) > int(limit):
                raise ConfigError(
                    f"per-position embeddings are for short inputs: {len(t)} tokens > max_tokens={limit}",
                    record=None if ids is None else ids[i],
                )
        use_cls = bool(getattr(self.net, "use_cls", False))
        out: list[np.ndarray] = []
        net, was_training = self.net, self.net.training
        net.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(tokens), batch_size):
                    batch_ids, mask = collate(tokens[start : start + batch_size])
                    h, m = net.trunk(batch_ids.to(self.device), mask.to(self.device))
                    if use_cls:
                        h, m = h[:, 1:], m[:, 1:]
                    h, m = h.float().cpu().numpy(), m.cpu().numpy()
                    out.extend(h[i][m[i]].astype(np.float32) for i in range(len(h)))
        finally:
            net.train(was_training)
        return out

    def _run(
        self, seqs: Sequence[str], batch_size: int, both_strands: bool, ids: Sequence[str] | None, output: str
    ) -> np.ndarray:
        seqs = list(seqs)
        width = self.n_classes if output == "probs" else self.embedding_dim
        if not seqs:
            return np.zeros((0, width), np.float32)
        strands = [seqs]
        if both_strands:
            alpha = get_alphabet(self.alphabet)
            if not alpha.has_complement:
                raise ConfigError(f"both_strands needs a nucleic-acid model; this one reads {alpha.name}")
            strands.append([alpha.reverse_complement(s) for s in seqs])
        total = np.zeros((len(seqs), width), np.float64)
        for strand in strands:
            total += self._run_one_strand(strand, batch_size, ids, output)
        return (total / len(strands)).astype(np.float32)

    def _run_one_strand(self, seqs: list[str], batch_size: int, ids: Sequence[str] | None, output: str) -> np.ndarray:
        if self.kind != "torch":
            self._check_letters(seqs, ids)
            out = self.net.predict_proba(seqs) if output == "probs" else self.net.features(seqs)
            return np.asarray(out, np.float64)
        from bioseq.data.windows import aggregate

        tokens, owner = self._encode_pieces(seqs, ids)
        return aggregate(self._forward_tokens(tokens, batch_size, output), owner, len(seqs))

    def _check_letters(self, seqs: list[str], ids: Sequence[str] | None) -> None:
        """Refuse letters outside the model's alphabet (kmer-linear would count them as unknown)."""
        alpha = get_alphabet(self.alphabet)
        allowed = set(alpha.letters) | set(alpha.ambiguous)
        delete = "".join(sorted(allowed)).encode()
        if not "".join(seqs).encode("utf-8", "replace").translate(None, delete):
            return  # all letters allowed: one C-level pass, no per-record work
        for i, s in enumerate(seqs):
            bad = set(s) - allowed
            if bad:
                raise AlphabetError(
                    f"letters {''.join(sorted(bad))!r} are not in the model's alphabet {alpha.name!r}",
                    record=ids[i] if ids is not None else None,
                )

    def _encode_pieces(self, seqs: list[str], ids: Sequence[str] | None) -> tuple[list[np.ndarray], np.ndarray]:
        """Token arrays of every piece (window) and the index of the sequence each belongs to."""
        from bioseq.data.batching import padded_to_list
        from bioseq.data.windows import apply_policy_batch

        pol = self.long_input
        if pol.get("policy", "none") == "none":
            pieces, owner = seqs, np.arange(len(seqs), dtype=np.int64)
        else:
            pieces, owner = apply_policy_batch(seqs, int(pol["max_bases"]), pol["policy"], int(pol.get("overlap", 0)))
        piece_ids = None if ids is None else [ids[i] for i in owner]
        mat, lengths = self.tokenizer.encode_batch(pieces, ids=piece_ids)
        return padded_to_list(mat, lengths), owner

    def _forward_tokens(self, tokens: list[np.ndarray], batch_size: int, output: str) -> np.ndarray:
        """Run the net over token arrays sorted by length; return values in input order.

        Returns:
            float64 ``(n, C)`` probabilities or ``(n, embedding_dim)`` features.
        """
        import torch

        from bioseq.data.batching import collate
        from bioseq.device import autocast

        net = self.net
        n = len(tokens)
        width = self.n_classes if output == "probs" else self.embedding_dim
        out = np.zeros((n, width), np.float64)
        order = np.argsort(np.fromiter((len(t) for t in tokens), np.int64, n), kind="stable")
        was_training = net.training
        net.eval()
        try:
            with torch.inference_mode(), autocast(self.device):
                for start in range(0, n, batch_size):
                    idx = order[start : start + batch_size]
                    ids, mask = collate([tokens[i] for i in idx])
                    ids, mask = ids.to(self.device), mask.to(self.device)
                    if output == "probs":
                        logits = net(ids, mask).float()
                        vals = torch.sigmoid(logits) if self.task == "multilabel" else torch.softmax(logits, -1)
                    else:
                        vals = net.features(ids, mask).float()
                    out[idx] = vals.cpu().numpy()
        finally:
            net.train(was_training)
        return out

    # ------------------------------------------------------------------ inference on files
    def decide(self, probs: np.ndarray) -> list[str]:
        """Predicted labels for probabilities ``(n, C)`` (arg-max, or thresholds for multilabel)."""
        from bioseq.training.labels import LabelEncoder

        return LabelEncoder(tuple(self.labels), self.task).decode(probs, self.thresholds)

    def predict(
        self, path_or_records: Any, batch_size: int = 256, both_strands: bool = False, *, allow_empty: bool = False
    ) -> Predictions:
        """Predict every record of a file (path, list of paths, ``"-"``) or of an iterable of
        records (``SequenceItem``/``SeqRecord``: anything with ``.id`` and ``.seq``).

        Input labels are ignored. Holds all results in memory; for large inputs use
        :meth:`predict_to_file`, which streams. ``allow_empty``: a file without
        records gives empty predictions instead of :class:`~bioseq.errors.EmptyInputError`.
        """
        from bioseq.predict import iter_predictions

        ids: list[str] = []
        probs: list[np.ndarray] = []
        for chunk_ids, chunk_probs in iter_predictions(
            self, path_or_records, batch_size, both_strands, allow_empty=allow_empty
        ):
            ids.extend(chunk_ids)
            probs.append(chunk_probs)
        p = np.concatenate(probs) if probs else np.zeros((0, self.n_classes), np.float32)
        return Predictions(ids=ids, probs=p, predicted=self.decide(p), labels=list(self.labels))

    def predict_to_file(
        self,
        input: Any,
        output: str | os.PathLike[str],
        batch_size: int = 256,
        both_strands: bool = False,
        *,
        allow_empty: bool = False,
    ) -> int:
        """Stream predictions into a TSV table (``"-"``: stdout); returns the number of records.

        ``allow_empty``: an input file without records gives a header-only table
        instead of :class:`~bioseq.errors.EmptyInputError` (for a workflow's shards).
        """
        from bioseq.predict import predict_to_file

        return predict_to_file(
            self, input, output, batch_size=batch_size, both_strands=both_strands, allow_empty=allow_empty
        )

    def embed(self, inputs: Any, cache: Any = None, batch_size: int = 256, **kwargs: Any) -> Any:
        """Embeddings ``(n, embedding_dim)`` of a file or records, in input order; with
        ``cache`` (an HDF5 path) through the content-addressed cache (:func:`bioseq.embed.embed.embed`)."""
        from bioseq.embed.embed import embed

        return embed(self, inputs, cache=cache, batch_size=batch_size, **kwargs)
