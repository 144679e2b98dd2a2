"""Attribution records, the score of the observed base, and the two output files.

* ``OUT.tsv``: a long table, header ``id  pos  base  score``, one row per
  position of every record in input order; ``pos`` is 0-based, ``base`` the
  letter in the input, ``score`` the attribution of that base (:func:`observed_scores`).
* ``OUT.h5`` (ragged, like the per-position embeddings): ``scores`` (sum of
  L_i, A) float32, every record's matrix one after the other; ``offsets`` (n + 1,)
  int64, record ``i`` is ``scores[offsets[i]:offsets[i+1]]``; ``ids`` (n,) str;
  ``sequences`` (n,) str; ``targets`` (n,) str (the class explained);
  ``probabilities`` (n,) float32, the model's probability of that class (NaN when
  unknown; absent from files of earlier versions, read as NaN). Attributes:
  ``kind="attributions"``, ``method``, ``value`` (``logit``/``prob``),
  ``letters`` (the column order, e.g. ``ACGT``), ``model_fingerprint``, ``arch``,
  ``bioseq_version``. The matrices are ISM effects (0 at the observed base) or
  the gradient methods' hypothetical contributions (:mod:`bioseq.interpret.gradients`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bioseq._version import __version__
from bioseq.errors import CacheError, ConfigError
from bioseq.io.atomic import AtomicWriter, discard_temp, put_in_place, temp_beside


@dataclass
class Attribution:
    """One record's attribution: ``scores`` float32 ``(L, A)`` toward class ``target``, which the
    model gave probability ``probability`` (what ranks records by confidence; NaN when unknown)."""

    id: str
    seq: str
    scores: np.ndarray
    target: str
    probability: float = float("nan")


def observed_scores(scores: np.ndarray, seq: str, letters: str, method: str) -> np.ndarray:
    """float32 ``(L,)``: the attribution of the base in the input at each position.

    Gradient methods: the matrix at the observed letter. ISM: minus the mean
    effect of the ``A - 1`` substitutions (how much the target drops, on
    average, when this base is mutated). Ambiguous positions (``N``): 0.
    """
    codes = np.full(256, -1, np.int64)
    codes[np.frombuffer(letters.encode("ascii"), np.uint8)] = np.arange(len(letters))
    obs = codes[np.frombuffer(seq.encode("ascii"), np.uint8)]
    known = obs >= 0
    out = np.zeros(len(seq), np.float32)
    rows = np.flatnonzero(known)
    if method == "ism":
        out[rows] = -scores[rows].sum(axis=1) / (len(letters) - 1)  # the observed entry is 0
    else:
        out[rows] = scores[rows, obs[known]]
    return out


class AttributionWriter(AtomicWriter):
    """``write(list[Attribution])`` into ``OUT.tsv`` or ``OUT.h5`` (chosen by the extension),
    put in place by ``close()`` (an interrupted run leaves nothing under the name)."""

    def __init__(self, path: str | os.PathLike[str], *, letters: str, method: str, value: str, model: Any) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in (".tsv", ".h5", ".hdf5"):
            raise ConfigError(f"attribution output must end in .tsv or .h5, got {self.path.name!r}")
        self.kind = "tsv" if suffix == ".tsv" else "h5"
        self.letters, self.method = letters, method
        self._tmp = temp_beside(self.path)
        if self.kind == "tsv":
            self._fh = open(self._tmp, "w", encoding="utf-8", newline="\n")
            self._fh.write("id\tpos\tbase\tscore\n")
            return
        self._h5 = h5py.File(self._tmp, "w")
        a = len(letters)
        self._scores = self._h5.create_dataset("scores", (0, a), "float32", maxshape=(None, a), chunks=(4096, a))
        self._offsets, self._ids, self._seqs, self._targets, self._probs = [0], [], [], [], []
        self._h5.attrs.update(
            kind="attributions", method=method, value=value, letters=letters,
            model_fingerprint=str(model.fingerprint), arch=str(getattr(model, "arch", "")),
            bioseq_version=__version__,
        )

    def write(self, batch: list[Attribution]) -> None:
        if self.kind == "tsv":
            for a in batch:
                score = observed_scores(a.scores, a.seq, self.letters, self.method)
                self._fh.writelines(
                    f"{a.id}\t{i}\t{b}\t{s:.6g}\n" for i, (b, s) in enumerate(zip(a.seq, score.tolist(), strict=True))
                )
            return
        if not batch:
            return
        rows = np.concatenate([a.scores for a in batch]).astype(np.float32)
        n = self._scores.shape[0]
        self._scores.resize(n + len(rows), axis=0)
        self._scores[n:] = rows
        self._offsets.extend((np.cumsum([len(a.seq) for a in batch]) + self._offsets[-1]).tolist())
        self._ids += [a.id for a in batch]
        self._seqs += [a.seq for a in batch]
        self._targets += [a.target for a in batch]
        self._probs += [a.probability for a in batch]

    def _commit(self) -> None:
        if self.kind == "tsv":
            self._fh.close()
        else:
            text = h5py.string_dtype()
            self._h5.create_dataset("offsets", data=np.asarray(self._offsets, np.int64))
            self._h5.create_dataset("probabilities", data=np.asarray(self._probs, np.float32))
            for name, values in (("ids", self._ids), ("sequences", self._seqs), ("targets", self._targets)):
                self._h5.create_dataset(name, data=np.asarray(values, dtype=object), dtype=text)
            self._h5.close()
        put_in_place(self._tmp, self.path)

    def _discard(self) -> None:
        if self.kind == "tsv":
            self._fh.close()
        else:
            self._h5.close()
        discard_temp(self._tmp)


@dataclass
class AttributionFile:
    """What :func:`read_attributions` returns: parallel lists plus the file's attributes."""

    ids: list[str]
    sequences: list[str]
    targets: list[str]
    scores: list[np.ndarray]
    probabilities: np.ndarray  # float32 (n,), NaN where unknown
    method: str
    value: str
    letters: str


def read_attributions(path: str | os.PathLike[str]) -> AttributionFile:
    """Read an ``.h5`` written by :class:`AttributionWriter`."""
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("kind") != "attributions":
                raise CacheError("not an attribution file from 'bioseq explain'", path=path)
            scores = f["scores"][:]
            offsets = f["offsets"][:]

            def text(name: str) -> list[str]:
                return [v.decode() if isinstance(v, bytes) else str(v) for v in f[name][:]]

            n = len(offsets) - 1
            probs = f["probabilities"][:] if "probabilities" in f else np.full(n, np.nan, np.float32)
            return AttributionFile(
                ids=text("ids"), sequences=text("sequences"), targets=text("targets"),
                scores=[scores[offsets[i] : offsets[i + 1]] for i in range(n)],
                probabilities=np.asarray(probs, np.float32),
                method=str(f.attrs["method"]), value=str(f.attrs["value"]), letters=str(f.attrs["letters"]),
            )
    except (OSError, KeyError) as exc:
        raise CacheError(f"not an attribution file ({exc})", path=path) from None
