"""The user-facing :class:`Model` and the functions that hand one out: ``bioseq.load`` and ``bioseq.train``.

:class:`~bioseq.models.classifier.Classifier` knows what a model is; this top
layer adds what a user does with one -- predict a file, stream a prediction
table, embed through a cache, save -- by calling the packages that do each job
(:mod:`bioseq.predict`, :mod:`bioseq.embed`, :mod:`bioseq.bundle`). Keeping
those methods up here is what lets every lower layer import only downward.

An ``--arch auto`` bundle loads as an :class:`EnsembleModel`: the same file-level
methods on an :class:`~bioseq.models.ensemble.EnsembleClassifier`.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from bioseq import bundle
from bioseq.embed.embed import embed as embed_records
from bioseq.interpret.explain import explain as explain_records
from bioseq.models.classifier import Classifier
from bioseq.models.ensemble import EnsembleClassifier
from bioseq.predict import Predictions, predict, predict_to_file
from bioseq.training.api import train as train_classifier
from bioseq.training.pretrain import pretrain as pretrain_encoder


class _FileMethods:
    """What a user does with a trained model, for a classifier and an ensemble alike."""

    @classmethod
    def wrap(cls, classifier: Any) -> Any:
        """The same classifier (shared nets and attributes) as an instance of ``cls``."""
        if isinstance(classifier, cls):
            return classifier
        model = cls.__new__(cls)
        model.__dict__.update(classifier.__dict__)
        return model

    def predict(
        self, path_or_records: Any, batch_size: int = 256, both_strands: bool = False, *, allow_empty: bool = False
    ) -> Predictions:
        """Predict in memory (:func:`bioseq.predict.predict`): a file, a sequence string, a list of sequence
        strings (ids ``seq0``, ``seq1``...), (id, sequence) pairs, ``SeqRecord`` s or a DataFrame
        (``id``, ``sequence``); see :func:`bioseq.io.sources.iter_source`."""
        return predict(self, path_or_records, batch_size, both_strands, allow_empty=allow_empty)

    def predict_to_file(
        self,
        input: Any,
        output: str | os.PathLike[str],
        batch_size: int = 256,
        both_strands: bool = False,
        *,
        allow_empty: bool = False,
    ) -> int:
        """Stream predictions into a TSV table (``"-"``: stdout); returns the number of records
        (:func:`bioseq.predict.predict_to_file`)."""
        return predict_to_file(
            self, input, output, batch_size=batch_size, both_strands=both_strands, allow_empty=allow_empty
        )

    def embed(self, inputs: Any, cache: Any = None, batch_size: int = 256, **kwargs: Any) -> Any:
        """Embeddings ``(n, embedding_dim)`` of any input form (as :meth:`predict`), in input order; with
        ``cache`` (an HDF5 path) through the content-addressed cache (:func:`bioseq.embed.embed.embed`)."""
        return embed_records(self, inputs, cache=cache, batch_size=batch_size, **kwargs)

    def explain(
        self, inputs: Any, method: str = "ism", target: Any = None, batch_size: int = 256, **kwargs: Any
    ) -> Any:
        """Per-base attributions (a list of :class:`~bioseq.interpret.attributions.Attribution`: ``id``,
        ``seq``, ``scores (L, A)``, ``target``) of a file or records toward ``target`` (default: the
        predicted class); :func:`bioseq.interpret.explain.explain`."""
        return explain_records(self, inputs, method=method, target=target, batch_size=batch_size, **kwargs)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the bundle (one safetensors file, atomically; :func:`bioseq.bundle.save_bundle`)."""
        bundle.save_bundle(self, path)  # type: ignore[arg-type]


class Model(_FileMethods, Classifier):
    """A trained classifier (see :class:`~bioseq.models.classifier.Classifier`) with file-level methods."""


class EnsembleModel(_FileMethods, EnsembleClassifier):
    """An ``--arch auto`` ensemble (see :class:`~bioseq.models.ensemble.EnsembleClassifier`) with the
    file-level methods of :class:`Model`."""


def wrap(classifier: Classifier | EnsembleClassifier) -> Model | EnsembleModel:
    """A trained classifier or ensemble as the user-facing :class:`Model` / :class:`EnsembleModel`."""
    if isinstance(classifier, EnsembleClassifier):
        return EnsembleModel.wrap(classifier)
    return Model.wrap(classifier)


def load(path: str | os.PathLike[str], device: str = "cpu") -> Model | EnsembleModel:
    """Load a model bundle (``bioseq.load``); never unpickles. See :func:`bioseq.bundle.load`.

    An ``--arch auto`` bundle gives an :class:`EnsembleModel`, any other a :class:`Model`."""
    return bundle.load(path, device=device, cls=Model, ensemble_cls=EnsembleModel)  # type: ignore[return-value]


@functools.wraps(train_classifier)
def train(*args: Any, **kwargs: Any) -> Model | EnsembleModel:
    return wrap(train_classifier(*args, **kwargs))


@functools.wraps(pretrain_encoder)
def pretrain(*args: Any, **kwargs: Any) -> Any:
    return pretrain_encoder(*args, **kwargs)
