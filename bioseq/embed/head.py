"""A logistic-regression head fitted on cached embeddings (a linear probe).

Why: once a trunk is trained, new labels (another cell type, another class
split) need only a cheap linear model on the embeddings already in a cache,
not a new network. The model is :mod:`bioseq.models.logistic` (the one
shared with kmer-linear). The head is saved without pickle: a safetensors file
with the arrays ``coef`` (K, D), ``intercept`` (K,), ``scaler_mean`` (D,),
``scaler_scale`` (D,) (K = 1 for two classes, else the number of classes) and
JSON metadata under the key ``bioseq_head`` (labels, the fingerprint of the
model whose embeddings it was fitted on, embedding dim, fit settings). Applying
it needs only NumPy: ``softmax(((x - mean) / scale) @ coef.T + intercept)``
(a sigmoid for K = 1), which is what scikit-learn's ``predict_proba`` computes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bioseq._version import __version__
from bioseq.embed.cache import EmbeddingCache
from bioseq.embed.embed import iter_embed
from bioseq.errors import BundleError, CacheError, ConfigError, InputFormatError, LabelError
from bioseq.io.atomic import atomic_path
from bioseq.models.logistic import Logistic, fit_logistic

HEAD_FORMAT = "bioseq-head"
HEAD_FORMAT_VERSION = 1
_META_KEY = "bioseq_head"
# file array name of each Logistic array (the file format predates bioseq.models.logistic)
_FILE_NAMES = {"coef": "coef", "intercept": "intercept", "mean": "scaler_mean", "scale": "scaler_scale"}

__all__ = ["Head", "fit_head", "load_head", "predict_with_head", "save_head"]


@dataclass
class Head:
    """A fitted linear head: ``labels`` (the probability column order) and its logistic regression
    (``linear.coef`` (len(labels), D)) on embeddings of the model ``model_fingerprint``."""

    labels: list[str]
    linear: Logistic
    model_fingerprint: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def embedding_dim(self) -> int:
        return self.linear.dim

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """Class probabilities float32 (n, C) for embeddings (n, D)."""
        x = np.asarray(embeddings, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.embedding_dim:
            raise ConfigError(f"head expects embeddings of shape (n, {self.embedding_dim}), got {x.shape}")
        return self.linear.predict_proba(x)

    def decide(self, probs: np.ndarray) -> list[str]:
        """Arg-max label of each row of ``probs`` (n, C)."""
        return [self.labels[i] for i in np.argmax(probs, axis=1)]

    def predict(self, embeddings: np.ndarray) -> list[str]:
        return self.decide(self.predict_proba(embeddings))


def save_head(head: Head, path: str | os.PathLike[str]) -> Path:
    """Write ``head`` as safetensors (atomically); returns the path.

    Two classes are stored as scikit-learn's single logit (K = 1 rows), as the
    format has always been: ``softmax([a, b]) = softmax([0, b - a])``.
    """
    from safetensors.numpy import save_file

    meta = {
        "format": HEAD_FORMAT,
        "format_version": HEAD_FORMAT_VERSION,
        "bioseq_version": __version__,
        "kind": "logistic-regression",
        "labels": head.labels,
        "model_fingerprint": head.model_fingerprint,
        "embedding_dim": head.embedding_dim,
        **{k: v for k, v in head.metadata.items() if k not in ("format", "format_version", "labels")},
    }
    state = head.linear.state_dict()
    if len(head.labels) == 2:
        state["coef"] = state["coef"][1:] - state["coef"][:1]
        state["intercept"] = state["intercept"][1:] - state["intercept"][:1]
    arrays = {_FILE_NAMES[k]: np.ascontiguousarray(v, dtype=np.float64) for k, v in state.items()}
    with atomic_path(path) as tmp:
        save_file(arrays, os.fspath(tmp), metadata={_META_KEY: json.dumps(meta, sort_keys=True)})
    return Path(path)


def load_head(path: str | os.PathLike[str]) -> Head:
    """Read a head written by :func:`save_head` (no pickle); BundleError if it is not one."""
    p = Path(path)
    meta, arrays = _read_head_file(p)
    missing = [n for n in _FILE_NAMES.values() if n not in arrays]
    if missing:
        raise BundleError(f"head lacks arrays {missing}", path=p)
    labels = [str(label) for label in meta["labels"]]
    state = {k: arrays[name] for k, name in _FILE_NAMES.items()}
    if len(labels) == 2 and state["coef"].ndim == 2 and len(state["coef"]) == 1:  # the single binary logit
        state["coef"] = np.vstack([np.zeros_like(state["coef"]), state["coef"]])
        state["intercept"] = np.concatenate([np.zeros(1), state["intercept"].reshape(-1)])
    try:
        linear = Logistic.from_state(state, len(labels), int(state["mean"].shape[0]), "head")
    except BundleError as exc:
        raise BundleError(exc.message, path=p) from None
    return Head(labels=labels, linear=linear, model_fingerprint=str(meta["model_fingerprint"]), metadata=meta)


def _read_head_file(p: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON metadata and the arrays of a head file; BundleError naming ``p`` if it is not one."""
    from safetensors import SafetensorError, safe_open
    from safetensors.numpy import load_file

    if not p.is_file():
        raise BundleError("no such head file", path=p)
    try:
        with safe_open(os.fspath(p), framework="numpy") as fh:
            raw = (fh.metadata() or {}).get(_META_KEY)
        arrays = load_file(os.fspath(p))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"not a readable safetensors head file: {exc}", path=p) from exc
    if raw is None:
        raise BundleError(f"safetensors file without {_META_KEY!r} metadata: not a bioseq head "
                          "(a model bundle? pass it as MODEL, not as --head)", path=p)
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise BundleError(f"corrupt head metadata: {exc}", path=p) from exc
    if meta.get("format") != HEAD_FORMAT or int(meta.get("format_version", 0)) > HEAD_FORMAT_VERSION:
        raise BundleError(f"unsupported head format {meta.get('format')!r} "
                          f"version {meta.get('format_version')!r}", path=p)
    return meta, arrays


# ----------------------------------------------------------------------------- fitting


def _is_sequence_file(path: Path) -> bool:
    """A labelled FASTA/FASTQ/... (labels by sequence) rather than an id<TAB>label table."""
    from bioseq.io.formats import detect_format, open_binary, sniff_format

    try:
        detect_format(path)
        return True
    except InputFormatError:
        pass
    with open_binary(path) as fh:
        return sniff_format(fh.read(4096)) is not None


def _single(labels: tuple[str, ...] | str, source: str, record: str) -> str:
    if isinstance(labels, str):
        return labels
    if len(labels) != 1:
        raise LabelError(f"fit-head fits single-label classifiers; this record has labels {labels}",
                         path=source, record=record)
    return labels[0]


def _training_data(
    cache: EmbeddingCache, labels: str | os.PathLike[str] | Mapping[str, Any]
) -> tuple[np.ndarray, list[str], str]:
    """Embeddings (n, D) and labels (n,) joined by id (table/dict) or by sequence (labelled file)."""
    if isinstance(labels, Mapping):
        table = {str(k): _single(v, "labels dict", str(k)) for k, v in labels.items()}
        source = "labels dict"
    else:
        path = Path(labels)
        source = os.fspath(path)
        if not path.is_file():
            raise LabelError("no such label file", path=path)
        if _is_sequence_file(path):
            from bioseq.io.readers import iter_sequences

            seqs, ys, ids = [], [], []
            for item in iter_sequences(path):
                if item.labels is None:
                    raise LabelError("record has no label (expected 'label=...' in the header)",
                                     path=path, record=item.id)
                seqs.append(item.seq)
                ys.append(_single(item.labels, source, item.id))
                ids.append(item.id)
            rows = cache.rows_of_sequences(seqs)
            if (rows < 0).any():
                miss = [ids[i] for i in np.flatnonzero(rows < 0)[:5]]
                raise LabelError(f"{int((rows < 0).sum())} of {len(ids)} labelled sequences are not in "
                                 f"{cache.path} (first: {', '.join(miss)}); embed them first", path=path)
            return cache.view.read(rows), ys, source
        from bioseq.io.labels import read_label_table

        table = {k: _single(v, source, k) for k, v in read_label_table(path).items()}
    ids = list(table)
    present = [i for i in ids if i in cache]
    if len(present) < len(ids):
        miss = [i for i in ids if i not in cache][:5]
        raise LabelError(
            f"{len(ids) - len(present)} of {len(ids)} labelled ids are not in {cache.path} (first: "
            f"{', '.join(miss)}); a cache stores each sequence under the id it was first seen with: "
            "label by a labelled FASTA, or fit on a 'bioseq embed -o' export", path=source)
    return cache.get_many(ids), [table[i] for i in ids], source


def fit_head(
    embeddings: str | os.PathLike[str],
    labels: str | os.PathLike[str] | Mapping[str, Any],
    output: str | os.PathLike[str] | None = None,
    *,
    model_fingerprint: str | None = None,
    C: float = 1.0,
    max_iter: int = 1000,
    class_weight: str | None = "balanced",
) -> Head:
    """Fit a logistic-regression head on cached embeddings; save it to ``output`` if given.

    Args:
        embeddings: a cache or a ``bioseq embed -o`` export.
        labels: an ``id<TAB>label`` table or a dict (joined by id), or a labelled
            sequence file (``label=`` in headers; joined by sequence content, so
            it works on a cache whatever ids the rows were stored under).
        output: where to write the head (``.safetensors``).
        model_fingerprint: which model's embeddings (default: the cache's only model).
        C, max_iter, class_weight: passed to scikit-learn's ``LogisticRegression``
            (features are standardised first; :func:`bioseq.models.logistic.fit_logistic`).
    """
    with EmbeddingCache(embeddings, model_fingerprint) as cache:
        x, y, source = _training_data(cache, labels)
        fingerprint, dim = cache.model_fingerprint, cache.embedding_dim
    classes = sorted(set(y))
    if len(classes) < 2:
        raise LabelError(f"need at least two classes to fit a head, found {classes}", path=source)
    target = np.searchsorted(np.asarray(classes), np.asarray(y))
    linear = fit_logistic(x, target, len(classes), C=C, max_iter=max_iter, class_weight=class_weight)
    accuracy = float(np.mean(np.argmax(linear.logits(x), axis=1) == target))
    head = Head(
        labels=[str(c) for c in classes], linear=linear, model_fingerprint=fingerprint,
        metadata={"embedding_dim": dim, "n_train": len(y), "C": C, "max_iter": max_iter,
                  "class_weight": class_weight, "train_accuracy": accuracy,
                  "embeddings": os.fspath(embeddings), "labels_source": source},
    )
    if output is not None:
        save_head(head, output)
    return head


def predict_with_head(
    model: Any,
    head: str | os.PathLike[str] | Head,
    input: Any,
    output: str | os.PathLike[str],
    cache: str | os.PathLike[str] | None = None,
    *,
    batch_size: int = 256,
    allow_multiple_models: bool = False,
    allow_empty: bool = False,
) -> int:
    """Predict ``input`` with ``model``'s embeddings and a fitted head; returns the record count.

    Writes a prediction table (TSV ``id  predicted  prob_<label>...``, input
    order, atomic) through :class:`bioseq.io.writers.PredictionWriter`.
    Embeddings come from / go to ``cache`` when given. ``allow_empty``: an
    input file without records gives a header-only table instead of
    :class:`~bioseq.errors.EmptyInputError`.

    Raises:
        BundleError: the head was fitted on another model's embeddings.
    """
    from bioseq.io.writers import PredictionBatch, PredictionWriter

    head_path = head if not isinstance(head, Head) else None
    h = load_head(head) if head_path is not None else head
    if h.model_fingerprint != model.fingerprint:
        raise BundleError(
            f"this head was fitted on embeddings of model {h.model_fingerprint[:12]}, not of the given "
            f"model {model.fingerprint[:12]}; fit a head on this model's embeddings (bioseq fit-head)",
            path=head_path)
    if h.embedding_dim != int(model.embedding_dim):
        raise BundleError(f"head expects {h.embedding_dim}-dim embeddings, the model gives "
                          f"{model.embedding_dim}", path=head_path)
    dtype = "float32"
    if cache is not None:
        dtype = _cache_dtype(cache, model.fingerprint)
    n = 0
    with PredictionWriter(output, h.labels) as writer:
        for chunk in iter_embed(model, input, cache, batch_size=batch_size, dtype=dtype,
                                allow_multiple_models=allow_multiple_models, allow_empty=allow_empty):
            probs = h.predict_proba(chunk.embeddings)
            writer.write(PredictionBatch(chunk.ids, h.decide(probs), probs))
            n += len(chunk.ids)
    return n


def _cache_dtype(cache: str | os.PathLike[str], fingerprint: str) -> str:
    """The dtype an existing cache stores this model's rows in (float32 for a new one)."""
    try:
        with EmbeddingCache(cache, fingerprint) as c:
            return c.dtype.name
    except CacheError:
        return "float32"

