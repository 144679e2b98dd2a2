"""The multi-k k-mer TF-IDF + logistic-regression baseline (registry name ``kmer-linear``).

Features (:mod:`bioseq.models.kmer_features`): the counts of every k-mer for
k = ``k_min`` .. the tokenizer's ``k`` (defaults: 1-8 for DNA/RNA, 1-3 for
protein), one block of columns per k, then the gapped k-mers (``gap_k``
letters spread over a window of each width in ``gap_spans``; defaults 6 letters
in 9 for DNA/RNA, residue pairs 3-6 wide for protein), one block per pattern; a block with more than
``hash_buckets`` k-mers (DNA k = 8 by default) is hashed into that many
columns with a fixed 64-bit mixer. The counts are weighted TF-IDF (term frequency ``1 + ln(count)``
for nucleotides, the raw count for proteins, times the smooth idf fitted on
the training set) and each row is scaled to unit L2 norm. Classification is
scikit-learn's ``LogisticRegression`` (multinomial; one binary regression per
label for multilabel) on the sparse matrix.

Regularisation: the model is fitted on the training set for each C of
``C_grid`` (ascending, stopping once the validation loss stops improving) and
the fit with the lowest validation log loss is kept, as fitted on the training
set only, so that the validation metrics the trainer records stay held out.
Without validation data, C is chosen on every fifth training sequence and the
model refitted on all of them.

This is the classic "spectrum kernel" baseline of enhancer/promoter papers: it
sees composition but not position, trains in seconds and tells a user whether
a deep net earns its cost.

State: NumPy arrays only (``coef``, ``intercept``, ``mean``, ``scale`` of
:mod:`bioseq.models.logistic`, the ``idf`` and the C path), so a bundle stores
them in safetensors (no pickle). The features depend on the tokenizer config,
the hyper-parameters and ``idf`` only, so a loaded model gives bit-identical
probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from bioseq.errors import BundleError, ConfigError, LabelError
from bioseq.models.kmer_features import TF_MODES, KmerSpace, fit_idf, tfidf
from bioseq.models.logistic import Logistic, Selection, fit_logistic, select_logistic
from bioseq.models.registry import merge_hparams
from bioseq.tasks import check_task, probabilities

# Measured on the validation splits (bench/accuracy.py; see default_tokenizer):
_BASE_HPARAMS: dict[str, Any] = {
    "k_min": 1,  # smallest k; the largest is the tokenizer's k
    "tf": "log",  # raw | log (1 + ln count): log for nucleotides, raw for proteins
    "hash_buckets": 16384,  # a k with more k-mers is hashed into this many columns (4096: AMPs -.009)
    # gapped k-mers (kmer_features): 0 here, so that a bundle saved before they existed loads
    # as it was trained; new models take default_hparams' per-alphabet values
    "gap_k": 0,
    "gap_spans": [],
    # inverse L2 strengths tried on validation; chosen on the bundled sets: enhancers 3, promoters
    # 30-100, splice 10, AMPs 30, DeepLoc 3-10 (the path stops before the slow weak-regularisation end)
    "C_grid": [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
    "class_weight": None,  # None | "balanced"
    "max_iter": 2000,
    "tol": 1e-4,
    "max_tokens": None,  # a spectrum takes any length: no long-input policy needed
}
# Hyper-parameters of the single-k model (bioseq before multi-k features): a bundle holding them is refused.
_OLD_HPARAMS = ("C", "transform", "standardize")
_EXTRA_STATE = ("idf", "C_grid", "valid_loss", "C_selected")
_HOLDOUT_EVERY = 5  # without validation data: every fifth training sequence chooses C


class KmerLinearClassifier:
    """Multi-k k-mer TF-IDF + logistic regression.

    Args:
        tokenizer: a ``KmerTokenizer``; its ``k`` is the largest k counted.
        n_classes: number of outputs C (2 for binary).
        hparams: overrides of :data:`_BASE_HPARAMS`; unknown keys raise ConfigError.
        task: ``binary`` | ``multiclass`` | ``multilabel``.

    ``__init__`` checks the hyper-parameters and task at once (an unknown key, tf mode or
    class weight is a :class:`ConfigError` before any data is read); fitting happens in :meth:`fit`.
    """

    name: ClassVar[str] = "kmer-linear"
    kind: ClassVar[str] = "sklearn"

    @staticmethod
    def default_tokenizer(alphabet: str) -> dict:
        """DNA/RNA: up to 8-mers, strand-specific; protein: up to tripeptides.

        Chosen on the validation splits: lowest validation log loss over C (then the
        test accuracy of that C), enhancers / non-TATA promoters:
        1-6-mers, raw tf .452 / .292 (test .750 / .863); 1-6, log tf .458 / .295
        (.770 / .861); 1-7, log tf .457 / .237 (.783 / .881); 1-8, log tf, 8-mers
        hashed into 16384 columns .455 / .221 (.780 / .884); 2-8 with 65536 buckets:
        promoters .208 (.887) for 4x the columns. Enhancers are flat in k, promoters
        gain all the way to 8. Proteins (AMPs): 1-3, raw tf .252 (test .900); log tf
        .257 (.895); tripeptides hashed into 4096 columns .272 (.891); 1-4 with 4-mers
        hashed into 65536 columns .241 (.905) for 8x the columns and fit time on
        DeepLoc, so 1-3 stays the default (``--kmer 4`` for more). Canonical k-mers:
        set ``canonical`` only when the strand of the input is arbitrary.
        """
        if alphabet.lower() == "protein":
            return {"k": 3, "stride": 1, "canonical": False}
        return {"k": 8, "stride": 1, "canonical": False}

    @staticmethod
    def default_hparams(alphabet: str) -> dict:
        """:data:`_BASE_HPARAMS`; proteins use the raw term frequency (``1 + ln``: AMP validation
        log loss .257 vs .252); nucleotides ``1 + ln`` (promoters at k = 1-7: .237 vs .240).

        Gapped k-mers (``gap_k`` letters; ``gap_spans``), chosen on the validation log loss,
        with the default contiguous blocks (first figure: no gapped k-mers). DNA enhancers
        .461: 6 in [9] .433, 5 in [8] .441, 6 in [7, 8, 9] .432, 5 in [6 .. 9] .437;
        promoters .221: 6 in [9] .217, 5 in [8] .223, 6 in [7, 8, 9] .233. Protein (AMPs)
        .252: 2 in [3] .242, [4] .239, [5] .230, [3, 4, 5] .220, [3 .. 6] .216; 3 in [4]
        .231, [4, 5] .220, [4, 5, 6] .218 (pairs: 400 columns per pattern against 8,000).
        """
        hp = dict(_BASE_HPARAMS, C_grid=list(_BASE_HPARAMS["C_grid"]), gap_k=6, gap_spans=[9])
        if alphabet.lower() == "protein":
            hp.update(tf="raw", gap_k=2, gap_spans=[3, 4, 5, 6])
        return hp

    def __init__(self, tokenizer: Any, n_classes: int, hparams: dict | None = None, task: str = "multiclass"):
        old = [key for key in _OLD_HPARAMS if key in (hparams or {})]
        if old:
            raise ConfigError(
                f"hyper-parameter(s) {', '.join(old)} belong to the single-k {self.name} of earlier "
                "bioseq versions; retrain the model (see C_grid, tf, k_min)"
            )
        self.tokenizer = tokenizer
        self.n_classes = int(n_classes)
        self.hparams = merge_hparams(self.name, _BASE_HPARAMS, hparams)
        self.task = check_task(task)
        self._check_hparams()
        if self.task == "binary" and self.n_classes != 2:
            raise ConfigError(f"a binary task has 2 classes, got n_classes={self.n_classes}")
        hp = self.hparams
        self.space = KmerSpace(tokenizer, hp["k_min"], hp["hash_buckets"], hp["gap_k"], hp["gap_spans"])
        self.linear: Logistic | None = None
        self.idf: np.ndarray | None = None
        self.selection: Selection | None = None

    def _check_hparams(self) -> None:
        hp = self.hparams
        if hp["tf"] not in TF_MODES:
            raise ConfigError(f"unknown tf {hp['tf']!r}; choose one of {', '.join(TF_MODES)}")
        if hp["class_weight"] not in (None, "balanced"):
            raise ConfigError(f"class_weight must be null or 'balanced', got {hp['class_weight']!r}")
        if not 1 <= hp["k_min"] <= self.tokenizer.k:
            raise ConfigError(f"k_min must lie in [1, k={self.tokenizer.k}], got {hp['k_min']}")
        if hp["hash_buckets"] < 1:
            raise ConfigError(f"hash_buckets must be positive, got {hp['hash_buckets']}")
        if not hp["C_grid"] or min(hp["C_grid"]) <= 0:
            raise ConfigError(f"C_grid must be a non-empty list of positive numbers, got {hp['C_grid']!r}")

    # ------------------------------------------------------------------ features
    @property
    def embedding_dim(self) -> int:
        """D: the number of feature columns (per k: UNK plus one column per k-mer id or hash bucket)."""
        return self.space.dim

    def weighted(self, seqs: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows (n, D) float64 CSR, unit L2 norm: the regression's input."""
        if self.idf is None:
            raise ConfigError(f"{self.name} model is not fitted: call fit() or load_state_dict() first")
        return tfidf(self.space.counts(seqs), self.idf, self.hparams["tf"])

    def features(self, seqs: Sequence[str]) -> np.ndarray:
        """The embedding: the TF-IDF rows as a dense float32 (n, embedding_dim) array."""
        return self.weighted(seqs).toarray().astype(np.float32)

    # ------------------------------------------------------------------ fit / predict
    def fit(
        self, seqs: Sequence[str], y: np.ndarray, valid: tuple[Sequence[str], np.ndarray] | None = None,
        deadline: float | None = None,
    ) -> KmerLinearClassifier:
        """Fit on sequences and targets: int class ids (n,) or multi-hot (n, C) for multilabel.

        ``valid``: ``(sequences, targets)`` that choose C from ``C_grid`` (lowest log loss);
        the model kept is the one fitted on ``seqs`` alone. Without it, every fifth
        training sequence chooses C and the model is refitted on all of them.
        ``deadline``: ``time.monotonic()`` after which the C search stops at the best C fitted
        so far (at least one is), so that ``--arch auto`` keeps time for its nets.
        """
        y = np.asarray(y)
        if len(seqs) != len(y):
            raise LabelError(f"{len(seqs)} sequences but {len(y)} targets")
        counts = self.space.counts(seqs)
        self.idf = fit_idf(counts)
        x = tfidf(counts, self.idf, self.hparams["tf"])
        if valid is not None:
            v_seqs, v_y = valid
            if len(v_seqs) != len(v_y):
                raise LabelError(f"{len(v_seqs)} validation sequences but {len(v_y)} targets")
            self.selection = self._select(x, y, self.weighted(v_seqs), np.asarray(v_y), deadline)
            self.linear = self.selection.model
        else:
            self.linear = self._fit_with_holdout(x, y, deadline)
        return self

    def _fit_kwargs(self) -> dict[str, Any]:
        hp = self.hparams
        return {
            "multilabel": self.task == "multilabel", "standardize": False, "max_iter": hp["max_iter"],
            "tol": hp["tol"], "class_weight": hp["class_weight"],
        }

    def _select(
        self, x: sp.csr_matrix, y: np.ndarray, xv: sp.csr_matrix, yv: np.ndarray, deadline: float | None
    ) -> Selection:
        return select_logistic(
            x, y, xv, yv, self.n_classes, self.hparams["C_grid"], deadline=deadline, **self._fit_kwargs()
        )

    def _fit_with_holdout(self, x: sp.csr_matrix, y: np.ndarray, deadline: float | None) -> Logistic:
        """C chosen on every fifth row, then refitted on all rows; one C (or too few rows to
        hold out every class) skips the choice and takes the middle of the grid."""
        grid = sorted(self.hparams["C_grid"])
        hold = np.arange(len(y)) % _HOLDOUT_EVERY == _HOLDOUT_EVERY - 1
        fit_part = y[~hold]
        separable = self.task == "multilabel" or len(np.unique(fit_part)) == self.n_classes
        if len(grid) > 1 and hold.sum() >= 2 and separable:
            self.selection = self._select(x[~hold], fit_part, x[hold], y[hold], deadline)
            c = self.selection.C
        else:
            c = float(grid[len(grid) // 2])
            self.selection = None
        return fit_logistic(x, y, self.n_classes, C=c, **self._fit_kwargs())

    def decision_function(self, seqs: Sequence[str]) -> np.ndarray:
        """Logits (n, C) float64 (each row independent of the others in the batch)."""
        linear = self._fitted()
        return linear.logits(self.weighted(seqs))

    def predict_proba(self, seqs: Sequence[str]) -> np.ndarray:
        """Probabilities float32 (n, C): softmax (binary/multiclass) or sigmoid (multilabel)."""
        return probabilities(self.decision_function(seqs), self.task)

    # ------------------------------------------------------------------ state
    def _fitted(self) -> Logistic:
        if self.linear is None or self.idf is None:
            raise ConfigError(f"{self.name} model is not fitted: call fit() or load_state_dict() first")
        return self.linear

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays only (safetensors-ready, no pickle): ``coef``, ``intercept``, ``mean``, ``scale``,
        ``idf`` (D,), and the C path: ``C_grid``, ``valid_loss`` (NaN: not fitted) and ``C_selected``
        (empty when C was not chosen on data)."""
        state = self._fitted().state_dict()
        sel = self.selection
        state.update(
            idf=np.ascontiguousarray(self.idf),
            C_grid=np.asarray([] if sel is None else sel.grid, dtype=np.float64),
            valid_loss=np.asarray([] if sel is None else sel.valid_loss, dtype=np.float64),
            C_selected=np.asarray([] if sel is None else [sel.C], dtype=np.float64),
        )
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> KmerLinearClassifier:
        """Restore from :meth:`state_dict`; wrong keys, shapes, dtypes or non-finite parameters raise
        :class:`BundleError`."""
        missing = [k for k in _EXTRA_STATE if k not in state]
        if missing:
            raise BundleError(f"{self.name} state lacks array(s): {', '.join(missing)}")
        wrong = [k for k in _EXTRA_STATE if not np.issubdtype(np.asarray(state[k]).dtype, np.floating)]
        if wrong:
            raise BundleError(f"{self.name} state array {wrong[0]!r} is {np.asarray(state[wrong[0]]).dtype}, "
                              "expected floating point")
        if not np.isfinite(state["idf"]).all():
            raise BundleError(f"{self.name} state array 'idf' holds NaN or infinite values")
        if np.shape(state["idf"]) != (self.embedding_dim,):
            raise BundleError(
                f"{self.name} state array 'idf' has shape {np.shape(state['idf'])}, expected {(self.embedding_dim,)}"
            )
        linear = Logistic.from_state(state, self.n_classes, self.embedding_dim, self.name)
        self.linear, self.idf = linear, np.asarray(state["idf"], dtype=np.float64).copy()
        grid, losses, chosen = (np.asarray(state[k], dtype=np.float64) for k in _EXTRA_STATE[1:])
        self.selection = Selection(grid, losses, float(chosen[0]), linear) if chosen.size else None
        return self
