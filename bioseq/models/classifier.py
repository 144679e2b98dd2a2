"""The :class:`Classifier`: a net, the tokenizer it was trained with, the labels and the task.

What a trained model *is*, independent of files, training and the CLI: weights
and configuration (and the fingerprint over both), the long-input policy, and
the questions asked of a classifier on sequences held in memory -- class
probabilities, pooled embeddings, per-position features, decisions. How the
net is run lives in :mod:`bioseq.models.inference`; saving and loading in
:mod:`bioseq.bundle`; files in, tables out in :mod:`bioseq.predict`; the user's
``Model`` (what ``bioseq.load`` returns) in :mod:`bioseq.api`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bioseq.alphabets import get_alphabet
from bioseq.data.windows import LONG_POLICIES, max_bases
from bioseq.errors import BundleError, ConfigError, PluginError
from bioseq.models.fingerprint import FINGERPRINT_FORMAT, Fingerprinted
from bioseq.models.registry import MODELS, build_net, get_model
from bioseq.tasks import LabelEncoder
from bioseq.tokenize.registry import tokenizer_from_config


def default_long_input(hparams: dict, kind: str, tokenizer: Any, policy: str = "windows") -> dict:
    """The long-input policy stored in the bundle (torch nets only; kmer-linear takes any length).

    ``max_bases`` is what ``max_tokens`` tokens cover; ``windows`` overlap by half a window.
    """
    if kind != "torch" or not hparams.get("max_tokens"):
        return {"policy": "none"}
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


STRANDS = ("given", "both")


def check_strands(strands: Any, tokenizer: Any) -> str:
    """``strands`` if valid: ``"both"`` needs an alphabet with a complement (DNA/RNA)."""
    if strands not in STRANDS:
        raise BundleError(f"strands must be one of {', '.join(STRANDS)}, got {strands!r}")
    alphabet = tokenizer.config().get("alphabet") if tokenizer is not None else None
    if strands == "both" and alphabet is not None and not get_alphabet(alphabet).has_complement:
        raise ConfigError(f"test-time reverse-complement averaging needs DNA/RNA; the model reads {alphabet}")
    return strands


def _check_dtypes(arrays: dict[str, np.ndarray], expected: dict[str, Any]) -> None:
    """Each array must be of the net's kind of number: torch would silently cast an integer
    tensor into a float parameter (an edited bundle would then predict from garbage)."""
    for name, array in arrays.items():
        want = expected.get(name)
        if want is None:
            continue  # unknown names are load_state_dict's to report
        if want.is_floating_point() != np.issubdtype(np.asarray(array).dtype, np.floating):
            raise BundleError(
                f"tensor {name!r} is {np.asarray(array).dtype}, the architecture needs {str(want.dtype).split('.')[-1]}"
            )
        if want.is_floating_point() and not np.isfinite(array).all():
            raise BundleError(f"tensor {name!r} holds NaN or infinite values")


class Classifier(Fingerprinted):
    """A trained (or new) classifier with its tokenizer, labels and task.

    Attributes:
        arch: architecture name (registry key), e.g. ``"cnn-lstm"``.
        kind: ``"torch"`` or ``"sklearn"``.
        net: the :class:`~bioseq.models.network.SequenceNet` (torch) or the kmer-linear estimator.
        tokenizer: the :class:`~bioseq.tokenize.kmer.KmerTokenizer` used in training.
        labels: class names; column order of every probability matrix.
        task: ``binary`` | ``multiclass`` | ``multilabel``.
        hparams: the architecture's hyper-parameters.
        thresholds: per-label decision thresholds (multilabel; 0.5 by default).
        long_input: the long-input policy (:func:`default_long_input`).
        strands: ``"given"`` (score the sequence as given) or ``"both"``: average
            every prediction and embedding with the reverse complement's
            (test-time reverse-complement averaging, DNA/RNA only) -- for tasks
            where the strand carries no signal; ``--test-time-rc`` at training,
            or decided on validation by ``--arch auto``.
        metadata: everything else stored in the bundle (history, metrics, ...).
        device: where a torch net runs.
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
        strands: str = "given",
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
        self.strands = check_strands(strands, tokenizer)
        self.metadata = dict(metadata or {})
        self.device = self._to_device(device)

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls, arch: str, tokenizer: Any, labels: Sequence[str], task: str, hparams: dict, device: Any = "cpu"
    ) -> Classifier:
        """A new untrained classifier (torch weights initialised from the current torch RNG)."""
        arch_cls = get_model(arch)
        return cls(
            arch=arch,
            kind=arch_cls.kind,
            net=build_net(arch_cls, tokenizer, len(labels), hparams, task),
            tokenizer=tokenizer,
            labels=labels,
            task=task,
            hparams=hparams,
            device=device,
        )

    @classmethod
    def from_arrays(cls, info: dict, tensors: dict[str, np.ndarray], device: Any = "cpu") -> Classifier:
        """Rebuild a classifier from bundle metadata and weights (see :func:`bioseq.bundle.load`).

        Raises:
            BundleError: unknown architecture, bad tokenizer config, or weights
                that do not fit the architecture.
        """
        try:
            arch_cls = get_model(info["arch"])
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
                net=build_net(arch_cls, tokenizer, len(labels), hparams, task),
                tokenizer=tokenizer,
                labels=labels,
                task=task,
                hparams=hparams,
                thresholds=info.get("thresholds"),
                long_input=info.get("long_input"),
                strands=info.get("strands", "given"),
                metadata=info,
            )
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
            self.net.load_state_dict(dict(arrays))  # the estimator checks its own arrays
            return
        import torch

        upgrade = getattr(self.net, "upgrade_state_keys", None)
        state = upgrade(dict(arrays)) if upgrade is not None else dict(arrays)
        _check_dtypes(state, self.net.state_dict())
        self.net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=True)

    def config(self) -> dict[str, Any]:
        """The prediction-relevant configuration (what the fingerprint covers)."""
        return {
            "format": FINGERPRINT_FORMAT,
            "arch": self.arch,
            "kind": self.kind,
            "hparams": self.hparams,
            "tokenizer": self.tokenizer.config(),
            "alphabet": self.alphabet,
            "labels": self.labels,
            "task": self.task,
            "thresholds": self.thresholds,
            "long_input": self.long_input,
            **({"strands": self.strands} if self.strands != "given" else {}),
        }

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

    def to(self, device: Any) -> Classifier:
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
            f"{type(self).__name__}(arch={self.arch!r}, task={self.task!r}, labels={self.labels!r}, "
            f"alphabet={self.alphabet!r}, fingerprint={self.fingerprint[:12]!r})"
        )

    # ------------------------------------------------------------------ sequences in memory
    def predict_proba_sequences(
        self,
        seqs: Sequence[str],
        batch_size: int = 256,
        both_strands: bool = False,
        ids: Sequence[str] | None = None,
        progress: Any = None,
    ) -> np.ndarray:
        """Class probabilities, float32 ``(n, C)`` in input order
        (:func:`~bioseq.models.inference.score_sequences`)."""
        from bioseq.models.inference import score_sequences

        return score_sequences(
            self, seqs, output="probs", batch_size=batch_size, both_strands=both_strands, ids=ids, progress=progress
        )

    def embed_sequences(
        self,
        seqs: Sequence[str],
        batch_size: int = 256,
        both_strands: bool = False,
        ids: Sequence[str] | None = None,
        progress: Any = None,
    ) -> np.ndarray:
        """Pooled embeddings (the head's input), float32 ``(n, embedding_dim)``; long
        inputs: mean over windows."""
        from bioseq.models.inference import score_sequences

        return score_sequences(
            self, seqs, output="features", batch_size=batch_size, both_strands=both_strands, ids=ids, progress=progress
        )

    def embed_positions(
        self, seqs: Sequence[str], batch_size: int = 64, ids: Sequence[str] | None = None
    ) -> list[np.ndarray]:
        """Per-position embeddings of short inputs, one float32 ``(T_i, H)`` array per
        sequence (:func:`~bioseq.models.inference.position_features`)."""
        from bioseq.models.inference import position_features

        return position_features(self, seqs, batch_size=batch_size, ids=ids)

    def decide(self, probs: np.ndarray) -> list[str]:
        """Predicted labels for probabilities ``(n, C)`` (arg-max, or thresholds for multilabel)."""
        return LabelEncoder(tuple(self.labels), self.task).decode(probs, self.thresholds)
