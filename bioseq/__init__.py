"""bioseq: classify biological sequences.

Public API (imported lazily, so ``import bioseq`` and ``bioseq --help`` do not
pay for torch until a model is used):

* :func:`read` -- stream labelled ``SeqRecord``s from FASTA/FASTQ/GenBank/EMBL.
* :class:`KmerTokenizer` -- vectorised k-mer token ids for DNA, RNA and protein.
* :func:`train` -- train a classifier and write a model bundle (``init=``: fine-tune a pretrained encoder).
* :func:`pretrain` -- masked-token pretraining of an encoder on unlabelled sequences.
* :class:`Model` -- what ``train`` and ``load`` return: predict, embed, save.
* :func:`load` -- load a model bundle (never unpickles code) as a :class:`Model`
  (an ``--arch auto`` bundle: an :class:`EnsembleModel`, same methods).
* :class:`EmbeddingCache` -- content-addressed HDF5 cache of embeddings.
* :class:`SequenceClassifier`, :class:`KmerSpectrum` -- scikit-learn estimators on
  lists of sequences (``Pipeline``, ``cross_val_score``, ``GridSearchCV``).
* :mod:`bioseq.errors` -- the exception classes.
"""

from __future__ import annotations

import importlib
from typing import Any

from bioseq import errors
from bioseq._version import __version__

_LAZY = {
    "read": ("bioseq.io.readers", "read"),
    "KmerTokenizer": ("bioseq.tokenize.kmer", "KmerTokenizer"),
    "train": ("bioseq.api", "train"),
    "pretrain": ("bioseq.api", "pretrain"),
    "load": ("bioseq.api", "load"),
    "Model": ("bioseq.api", "Model"),
    "EnsembleModel": ("bioseq.api", "EnsembleModel"),
    "EmbeddingCache": ("bioseq.embed.cache", "EmbeddingCache"),
    "SequenceClassifier": ("bioseq.estimators", "SequenceClassifier"),
    "KmerSpectrum": ("bioseq.estimators", "KmerSpectrum"),
}

__all__ = ["__version__", "errors", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bioseq' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
