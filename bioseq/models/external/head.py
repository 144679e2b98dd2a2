"""``bioseq train --arch esm-head``: a small trainable head on a frozen pretrained encoder.

``--hparams '{"encoder": "esm:/w/esm2_t12_35M_UR50D.pt"}'`` (or ``hf:/w/dir``).
The head (:mod:`bioseq.models.external.head_nets`: light attention by default,
``mean-mlp`` on request) learns from the encoder's per-residue embeddings; the
encoder itself is never trained and never stored.

Why an architecture of the ``sklearn`` kind (the registry's estimator
interface): it receives sequences, not k-mer tokens, so the encoder runs on
exactly what the user gave, and the trainer calls ``fit`` once. ``fit``
embeds the training and validation sequences **once** (the frozen encoder's
per-residue embeddings are held as float16, in memory or beyond 2 GiB in a
temporary file: :mod:`bioseq.models.external.residues`, and reused by every
epoch and by the trainer's scoring afterwards) and trains the head with AdamW,
early stopping on the validation loss and keeping the best epoch's weights.

The bundle holds the head's tensors; its hyper-parameters record the encoder's
spec with the absolute local path (``encoder``), the sha256 of its weight
files (``encoder_sha256``) and its width (``encoder_dim``), all covered by the
model fingerprint. Loading a bundle opens nothing; the first prediction opens
the encoder at the recorded path and refuses weights whose sha256 differs
(a missing file is the encoder's named error saying where such weights come from).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from bioseq.errors import BundleError, ConfigError
from bioseq.models.external import open_encoder
from bioseq.models.external.residues import ResidueStore
from bioseq.models.registry import merge_hparams
from bioseq.tasks import check_task, probabilities

log = logging.getLogger("bioseq.models.esm_head")

_HPARAMS: dict[str, Any] = {
    "encoder": "",  # esm:/path/to/weights.pt or hf:/path/to/dir (required)
    "encoder_sha256": "",  # recorded when training starts
    "encoder_dim": 0,  # recorded when training starts
    "head": "light-attention",  # light-attention | mean-mlp
    "hidden": 32,
    "kernel_size": 9,
    "dropout": 0.25,
    "epochs": 40,
    "patience": 8,  # epochs without a better validation loss before stopping (0: never stop early)
    "lr": 5e-4,
    "weight_decay": 1e-2,
    "batch_size": 32,
    "embed_batch_size": 8,  # windows per encoder call
    "class_weight": None,  # None | "balanced" (the trainer passes its --no-class-weight choice)
    "max_tokens": None,  # the encoder windows long inputs itself: no long-input policy here
}


class EncoderHeadClassifier:
    """A light-attention (or mean-pool MLP) head on a frozen encoder; the registry's sklearn kind.

    Args:
        tokenizer: the trainer's ``KmerTokenizer`` (k = 1; only its alphabet matters).
        n_classes: C.
        hparams: overrides of :data:`_HPARAMS`; ``encoder`` is required.
        task: ``binary`` | ``multiclass`` | ``multilabel``.
    """

    name = "esm-head"
    kind = "sklearn"

    @staticmethod
    def default_tokenizer(alphabet: str) -> dict:
        return {"k": 1}

    @staticmethod
    def default_hparams(alphabet: str) -> dict:
        return dict(_HPARAMS)

    @staticmethod
    def adapt_hparams(hparams: dict, median_length: float) -> dict:
        """Record the encoder (absolute path, weights' sha256, width) before training starts."""
        return _resolve_encoder(dict(hparams))

    def __init__(self, tokenizer: Any, n_classes: int, hparams: dict | None = None, task: str = "multiclass"):
        from bioseq.models.external.head_nets import HEADS, build_head

        self.tokenizer = tokenizer
        self.n_classes = int(n_classes)
        self.task = check_task(task)
        hp = merge_hparams(self.name, _HPARAMS, hparams)
        if hp["head"] not in HEADS:
            raise ConfigError(f"unknown esm-head head {hp['head']!r}; choose one of {', '.join(HEADS)}")
        if hp["class_weight"] not in (None, "balanced"):
            raise ConfigError(f"class_weight must be null or 'balanced', got {hp['class_weight']!r}")
        if not hp["encoder_sha256"] or not hp["encoder_dim"]:
            hp = _resolve_encoder(hp)
            if isinstance(hparams, dict):  # the caller's copy (Classifier.create) records them too
                hparams.update({k: hp[k] for k in ("encoder", "encoder_sha256", "encoder_dim")})
        self.hparams = hp
        self.net = build_head(hp["head"], hp["encoder_dim"], self.n_classes, hp["hidden"], hp["kernel_size"],
                              hp["dropout"])
        self.history: list[dict[str, float]] = []
        self._encoder: Any = None
        self._memo: ResidueStore | None = None  # residue embeddings of the sequences fit saw

    @property
    def embedding_dim(self) -> int:
        """Width of :meth:`features`: the head's pooled vector (2D for light attention, D for mean-mlp)."""
        return int(self.net.embedding_dim)

    # ------------------------------------------------------------------ the frozen encoder
    @property
    def encoder(self) -> Any:
        """The encoder at the recorded path, its weights checked against the recorded sha256."""
        if self._encoder is None:
            encoder = open_encoder(self.hparams["encoder"], device="auto")
            if encoder.weights_digest() != self.hparams["encoder_sha256"]:
                raise ConfigError(
                    f"these encoder weights (sha256 {encoder.weights_digest()[:12]}) are not the ones the model "
                    f"was trained on (sha256 {self.hparams['encoder_sha256'][:12]}); give the model its own "
                    "encoder weights at this path", path=encoder.path)
            self._encoder = encoder
        return self._encoder

    def _pooled_only(self) -> bool:
        """A mean-mlp head on an encoder without per-residue embeddings reads one pooled row per sequence."""
        return self.hparams["head"] == "mean-mlp" and not self.encoder.load().per_residue

    def _residues(self, seqs: Sequence[str]) -> list[np.ndarray]:
        """float16 ``(L_i, D)`` per sequence (``(1, D)`` when :meth:`_pooled_only`): from the store of the
        sequences ``fit`` saw, the rest computed by the encoder (and stored when a store is being filled)."""
        memo = self._memo
        todo = list(dict.fromkeys(s for s in seqs if memo is None or s not in memo))
        fresh: dict[str, np.ndarray] = {}
        bs = int(self.hparams["embed_batch_size"])
        for lo in range(0, len(todo), 256):
            part = todo[lo:lo + 256]
            if self._pooled_only():
                arrays = [row[None] for row in self.encoder.embed_sequences(part, batch_size=bs)]
            else:
                arrays = self.encoder.residue_embeddings(part, batch_size=bs)
            for seq, arr in zip(part, arrays, strict=True):
                if memo is not None and memo.filling:
                    memo.add(seq, arr)
                else:
                    fresh[seq] = arr.astype(np.float16)
        return [memo.get(s) if memo is not None and s in memo else fresh[s] for s in seqs]

    # ------------------------------------------------------------------ estimator interface
    def fit(
        self, seqs: Sequence[str], y: np.ndarray, valid: tuple[Sequence[str], np.ndarray] | None = None,
        deadline: float | None = None,
    ):
        """Embed ``seqs`` (and ``valid``'s) once, then train the head (see the module doc) until its
        early stopping or, after at least one epoch, the ``time.monotonic()`` ``deadline``
        (``--max-time``)."""
        from bioseq.models.external.head_fit import train_head

        everything = list(dict.fromkeys([*seqs, *(valid[0] if valid is not None else ())]))
        rows = len(everything) if self._pooled_only() else sum(map(len, everything))
        self._memo = ResidueStore(rows, self.hparams["encoder_dim"])
        self._memo.filling = True
        try:
            x = self._residues(seqs)
            xv = None if valid is None else (self._residues(valid[0]), np.asarray(valid[1]))
        finally:
            self._memo.filling = False
        self.history = train_head(self.net, x, np.asarray(y), xv, self.task, self.hparams, deadline)
        return self

    def _run(self, seqs: Sequence[str], pooled: bool) -> np.ndarray:
        from bioseq.models.external.head_fit import run_head

        return run_head(self.net, self._residues(seqs), int(self.hparams["batch_size"]), pooled)

    def predict_proba(self, seqs: Sequence[str]) -> np.ndarray:
        """float32 ``(n, C)``: softmax over classes (sigmoid per label for multilabel)."""
        return probabilities(self._run(seqs, pooled=False), self.task).astype(np.float32)

    def features(self, seqs: Sequence[str]) -> np.ndarray:
        """The head's pooled vectors, float32 ``(n, embedding_dim)``."""
        return self._run(seqs, pooled=True)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The head's weights as numpy arrays (float32; BatchNorm's step count int64)."""
        return {k: v.detach().cpu().numpy().copy() for k, v in self.net.state_dict().items()}

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        """Set the head's weights; names, shapes and kinds of number must match the architecture."""
        import torch

        want = self.net.state_dict()
        for name, arr in arrays.items():
            if name in want and want[name].is_floating_point() != np.issubdtype(np.asarray(arr).dtype, np.floating):
                raise BundleError(f"tensor {name!r} is {np.asarray(arr).dtype}, the head needs {want[name].dtype}")
            if name in want and want[name].is_floating_point() and not np.isfinite(arr).all():
                raise BundleError(f"tensor {name!r} holds NaN or infinite values")
        self.net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}, strict=True)


def _resolve_encoder(hp: dict) -> dict:
    """``hp`` with the encoder's spec made absolute and its weights' sha256 and width recorded."""
    if not hp.get("encoder"):
        raise ConfigError("--arch esm-head needs a pretrained encoder given by its local weights: "
                          "--hparams '{\"encoder\": \"esm:/path/to/esm2_t12_35M_UR50D.pt\"}' (or \"hf:/path/to/dir\")")
    encoder = open_encoder(hp["encoder"], device="auto")
    hp.update(encoder=encoder.spec, encoder_sha256=encoder.weights_digest(), encoder_dim=encoder.embedding_dim)
    log.info("esm-head on %s (sha256 %s, %d dims)", encoder.spec, hp["encoder_sha256"][:12], hp["encoder_dim"])
    return hp
