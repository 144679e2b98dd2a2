"""scikit-learn estimators over sequences: :class:`SequenceClassifier` and :class:`KmerSpectrum`.

Both take ``X`` as a list (or array, or pandas Series) of sequence strings, or
any other input form of :func:`bioseq.io.sources.iter_source` (files, ``(id,
sequence)`` pairs, ``SeqRecord`` s, a DataFrame); one sample per record. So
``clone``, ``Pipeline``, ``cross_val_score`` and ``GridSearchCV`` work on lists
of sequences::

    from sklearn.model_selection import GridSearchCV
    search = GridSearchCV(bioseq.SequenceClassifier(arch="kmer-linear"),
                          {"hparams": [{"C_grid": [0.01]}, {"C_grid": [1.0]}]}, cv=3)
    search.fit(seqs, labels)

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    make_pipeline(bioseq.KmerSpectrum(k=4), LogisticRegression()).fit(seqs, labels)

``__init__`` only stores its arguments (scikit-learn's rule); everything is
checked in ``fit``/``transform``.

scikit-learn's estimator checks mostly feed numeric 2-D arrays, which a
sequence estimator refuses by design (its input tags say ``string``, not
``two_d_array``, so ``check_estimator`` skips them all). ``tests/test_estimators.py``
runs those that apply to string input, and lists those that cannot and why.

This module is a top layer beside :mod:`bioseq.api` (it trains through
``bioseq.train`` and keeps the :class:`~bioseq.api.Model`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from bioseq.api import Model, train
from bioseq.io.readers import SequenceItem
from bioseq.io.sources import iter_source
from bioseq.tokenize import N_SPECIAL, UNK, KmerTokenizer
from bioseq.training.config import DEFAULT_EPOCHS, DEFAULT_PATIENCE

__all__ = ["KmerSpectrum", "SequenceClassifier"]


def _string_tags(tags: Any) -> Any:
    """scikit-learn >= 1.6 tags: X is strings, not a 2-D numeric array."""
    tags.input_tags.two_d_array = False
    tags.input_tags.string = True
    return tags


def _columns(X: Any, alphabet: Any, labelled: bool = False) -> tuple[list[str], list[str], list]:
    """ids, sequences (and labels when ``labelled``) of every record of ``X``, in order."""
    ids: list[str] = []
    seqs: list[str] = []
    labels: list = []
    for chunk in iter_source(X, alphabet=alphabet, labels=None if labelled else False):
        ids += chunk.ids
        seqs += chunk.seqs
        labels += chunk.labels or []
    return ids, seqs, labels


def _targets(y: Any, X_labels: list, n: int) -> np.ndarray:
    """``y`` as a 1-D array of ``n`` class values (from the records' own labels when ``y`` is None)."""
    if y is None:
        if any(not labs or len(labs) != 1 for labs in X_labels):
            raise ValueError("y is None and not every record of X carries exactly one label")
        y = [labs[0] for labs in X_labels]
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one class per sequence), got shape {y.shape}; "
                         "for multi-label data use bioseq.train")
    if len(y) != n:
        raise ValueError(f"X has {n} sequences but y has {len(y)} labels")
    check_classification_targets(y)
    return y


class SequenceClassifier(ClassifierMixin, BaseEstimator):
    """A bioseq classifier as a scikit-learn estimator.

    Parameters are those of :class:`~bioseq.training.config.TrainConfig` under
    the same names (``arch``: ``"auto"``, ``"kmer-linear"``, ``"cnn-lstm"``,
    ``"transformer"``...; ``max_time`` in minutes; ``hparams`` overrides of
    the architecture's hyper-parameters). ``fit`` holds out its own validation
    split (10 %, stratified, seeded by ``seed``) for early stopping and model
    choice, as ``bioseq.train`` does without a validation set.

    Attributes (after ``fit``):
        classes_: the sorted class values of ``y`` (column order of :meth:`predict_proba`).
        model_: the trained :class:`bioseq.Model` (labels ``str(class)``): save it with
            ``model_.save(path)``, predict files with ``model_.predict_to_file``.
    """

    def __init__(
        self,
        arch: str = "auto",
        *,
        candidates: Any = None,
        seeds_per_net: int | None = None,
        max_time: float | None = None,
        epochs: int = DEFAULT_EPOCHS,
        batch_size: int = 64,
        lr: float | None = None,
        seed: int = 0,
        hparams: dict | None = None,
        alphabet: str | None = None,
        k: int | None = None,
        patience: int | None = DEFAULT_PATIENCE,
        class_weight: str | None = "balanced",
        device: str = "auto",
        threads: int | None = None,
        progress: bool = False,
    ) -> None:
        self.arch = arch
        self.candidates = candidates
        self.seeds_per_net = seeds_per_net
        self.max_time = max_time
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.hparams = hparams
        self.alphabet = alphabet
        self.k = k
        self.patience = patience
        self.class_weight = class_weight
        self.device = device
        self.threads = threads
        self.progress = progress

    def _train_options(self) -> dict[str, Any]:
        opts = {name: getattr(self, name) for name in self.get_params(deep=False)}
        if opts["candidates"] is not None:
            opts["candidates"] = tuple(opts["candidates"])
        if opts["hparams"] is not None:
            opts["hparams"] = dict(opts["hparams"])  # never hand the user's dict to training
        return opts

    def fit(self, X: Any, y: Any = None) -> SequenceClassifier:
        """Train on sequences ``X`` (any input form; see the module docstring) and classes ``y``
        (None: the labels the records of ``X`` carry). Returns ``self``."""
        ids, seqs, X_labels = _columns(X, self.alphabet, labelled=y is None)
        y = _targets(y, X_labels, len(seqs))
        classes = np.unique(y)
        names = [str(c) for c in classes]
        if len(set(names)) != len(names):
            raise ValueError(f"classes {list(classes)!r} are not distinct as strings")
        index = np.searchsorted(classes, y)
        records = [SequenceItem(rid, seq, (names[i],)) for rid, seq, i in zip(ids, seqs, index, strict=True)]
        self.model_: Model = train(records, **self._train_options())
        self.classes_ = classes
        self._label_columns = np.array([list(self.model_.labels).index(name) for name in names])
        self._class_of = dict(zip(names, classes, strict=True))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, len(classes_))``, columns in :attr:`classes_` order."""
        check_is_fitted(self)
        return self.model_.predict(X).probs[:, self._label_columns]

    def predict(self, X: Any) -> np.ndarray:
        """The predicted class of every sequence (the model's decision, e.g. its tuned binary threshold)."""
        check_is_fitted(self)
        predicted = self.model_.predict(X).predicted
        return np.array([self._class_of[p] for p in predicted], dtype=self.classes_.dtype)

    def __sklearn_tags__(self) -> Any:
        return _string_tags(super().__sklearn_tags__())

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"X_types": ["string"], "requires_y": True}


class KmerSpectrum(TransformerMixin, BaseEstimator):
    """k-mer counts (or frequencies) of sequences: features for any scikit-learn model.

    Stateless: ``fit`` only checks the parameters. Column 0 counts the k-mers
    that cover an ambiguous letter (``N``...: the tokenizer's ``UNK``), then one
    column per k-mer in the tokenizer's (lexicographic) order; see
    :meth:`get_feature_names_out`.

    Parameters:
        k, alphabet, stride, canonical: as :class:`bioseq.KmerTokenizer`.
        normalize: divide each row by its number of k-mers (frequencies); False: raw counts.
        sparse_output: a ``scipy.sparse`` CSR matrix instead of a dense array (for large k).
    Output dtype: float32.
    """

    def __init__(
        self,
        k: int = 4,
        alphabet: str = "dna",
        *,
        stride: int = 1,
        canonical: bool = False,
        normalize: bool = True,
        sparse_output: bool = False,
    ) -> None:
        self.k = k
        self.alphabet = alphabet
        self.stride = stride
        self.canonical = canonical
        self.normalize = normalize
        self.sparse_output = sparse_output

    def _tokenizer(self) -> KmerTokenizer:
        return KmerTokenizer(self.k, self.alphabet, stride=self.stride, canonical=self.canonical, short="empty")

    def fit(self, X: Any = None, y: Any = None) -> KmerSpectrum:
        """Check the parameters (nothing is learnt). Returns ``self``."""
        self._tokenizer()
        return self

    def transform(self, X: Any) -> Any:
        """``(n, n_features)`` float32 k-mer counts/frequencies of the sequences of ``X``."""
        tok = self._tokenizer()
        _, seqs, _ = _columns(X, tok.alphabet)
        n_features = int(tok.vocab_size) - N_SPECIAL + 1
        rows = max(1, min(1024, (1 << 22) // n_features))  # a dense block stays under 16 MiB
        blocks = [self._counts(tok, seqs[i:i + rows], n_features) for i in range(0, len(seqs), rows)]
        if self.sparse_output:
            import scipy.sparse as sp

            return sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, n_features), dtype=np.float32)
        return np.concatenate(blocks) if blocks else np.zeros((0, n_features), np.float32)

    def _counts(self, tok: KmerTokenizer, seqs: list[str], n_features: int) -> Any:
        """One block of rows: the tokens of each sequence (``encode_batch``), counted by one
        ``bincount`` (dense) or summed as duplicate (row, column) entries (sparse)."""
        tokens, lengths = tok.encode_batch(seqs)
        n = len(seqs)
        present = np.arange(tokens.shape[1]) < lengths[:, None]  # not PAD
        row = np.nonzero(present)[0]
        ids = tokens[present].astype(np.int64)
        col = np.where(ids == UNK, 0, ids - (N_SPECIAL - 1))  # UNK first, then the k-mers
        weight = np.ones(len(row), np.float32)
        if self.normalize:
            weight /= np.maximum(lengths, 1).astype(np.float32)[row]
        if self.sparse_output:
            import scipy.sparse as sp

            return sp.csr_matrix((weight, (row, col)), shape=(n, n_features), dtype=np.float32)
        flat = np.bincount(row * n_features + col, weights=weight, minlength=n * n_features)
        return flat.reshape(n, n_features).astype(np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``["<unk>", "AAAA", "AAAC", ...]``: the k-mer of every column."""
        tok = self._tokenizer()
        ids = [UNK, *range(N_SPECIAL, int(tok.vocab_size))]
        return np.array([tok.id_to_token(i) for i in ids], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = _string_tags(super().__sklearn_tags__())
        tags.requires_fit = False
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"X_types": ["string"], "stateless": True, "requires_fit": False}
