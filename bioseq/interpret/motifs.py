"""Motifs a model learned: TF-MoDISco seqlets and clusters, MEME output, logos, TomTom matches.

Input: an ``.h5`` of ``bioseq explain`` (DNA/RNA, four letters). The matrices
are the *signed hypothetical contributions* TF-MoDISco needs: the gradient
methods' as written; ISM effects centred per position (minus the mean over the
alphabet, so the observed base gets minus the mean substitution effect and the
row sums to 0). Records of different lengths are padded with zero one-hot and
zero contributions (no seqlet can score there).

modisco-lite (:func:`modiscolite.tfmodisco.TFMoDISco`) finds seqlets, clusters
them (Leiden) and returns positive and negative patterns. Each pattern is
trimmed to the positions carrying at least ``trim`` of its peak contribution
and written as:

* a MEME minimal-format motif (the position probability matrix of its seqlets;
  ``MOTIF <pos|neg>_<i> <consensus>``, ``nsites`` = seqlets);
* with ``logos``: ``<name>.png`` and ``<name>.svg`` of the contribution weight
  matrix (logomaker);
* with a database (a MEME file): TomTom (memelite) p-values against every
  database motif (both strands), Benjamini-Hochberg q-values per query, written
  to a TSV ``query  target  p_value  q_value  offset  orientation`` (best first).

Nothing is downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bioseq.errors import ConfigError
from bioseq.interpret.attributions import read_attributions
from bioseq.interpret.extras import require
from bioseq.io.atomic import atomic_open, atomic_path
from bioseq.models.onehot import encode_onehot


@dataclass
class Motif:
    """One pattern: ``ppm`` and ``cwm`` float ``(W, 4)`` (trimmed), ``n_seqlets``, ``consensus``."""

    name: str
    ppm: np.ndarray
    cwm: np.ndarray
    n_seqlets: int

    @property
    def consensus(self) -> str:
        return "".join("ACGT"[i] for i in self.ppm.argmax(axis=1))


def modisco_inputs(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(one_hot, hypothetical)`` float32 ``(N, L_max, 4)`` from an attribution file."""
    att = read_attributions(path)
    if len(att.letters) != 4:
        raise ConfigError(f"motifs are for DNA/RNA attributions; this file's alphabet is {att.letters!r}", path=path)
    if not att.ids:
        raise ConfigError("the attribution file holds no records", path=path)
    width = max(len(s) for s in att.sequences)
    one_hot = np.zeros((len(att.ids), width, 4), np.float32)
    hyp = np.zeros_like(one_hot)
    for i, (seq, scores) in enumerate(zip(att.sequences, att.scores, strict=True)):
        one_hot[i, : len(seq)] = encode_onehot(seq, att.letters)
        m = np.asarray(scores, np.float32)
        hyp[i, : len(seq)] = m - m.mean(axis=1, keepdims=True) if att.method == "ism" else m
    return one_hot, hyp


def find_motifs(
    path: str | os.PathLike[str],
    *,
    window: int = 15,
    flank: int = 5,
    min_seqlets: int = 20,
    max_seqlets: int = 20000,
    trim: float = 0.3,
    seed: int = 0,
) -> list[Motif]:
    """TF-MoDISco patterns of the attributions in ``path`` (positive first), trimmed.

    ``window``/``flank`` default to 15/5 rather than modisco's 21/10 (made for 1 kb
    inputs): on 60-bp records 21 + 2 x 10 leaves too few seqlet positions and
    finds nothing, 15/5 recovers a planted 8-mer."""
    tfmodisco = require("modiscolite.tfmodisco", "bioseq motifs")
    one_hot, hyp = modisco_inputs(path)
    window = min(window, max(5, one_hot.shape[1] // 2 - 1))
    flank = min(flank, max(0, (one_hot.shape[1] - window) // 2))
    np.random.seed(seed)  # modisco-lite draws from NumPy's global generator
    pos, neg = tfmodisco.TFMoDISco(
        one_hot=one_hot, hypothetical_contribs=hyp, sliding_window_size=window, flank_size=flank,
        min_metacluster_size=min_seqlets, max_seqlets_per_metacluster=max_seqlets,
        final_min_cluster_size=min(20, min_seqlets), trim_to_window_size=max(window, 10),
        initial_flank_to_add=min(flank, 10), verbose=False,
    )
    motifs = []
    for sign, patterns in (("pos", pos or []), ("neg", neg or [])):
        for i, p in enumerate(patterns):
            cwm, ppm = np.asarray(p.contrib_scores), np.asarray(p.sequence)
            strength = np.abs(cwm).sum(axis=1)
            keep = np.flatnonzero(strength >= trim * strength.max())
            lo, hi = (int(keep[0]), int(keep[-1]) + 1) if len(keep) else (0, len(cwm))
            motifs.append(Motif(f"{sign}_{i}", ppm[lo:hi], cwm[lo:hi], len(p.seqlets)))
    return motifs


def write_meme(motifs: list[Motif], path: str | os.PathLike[str]) -> None:
    """MEME minimal motif format (version 4), uniform background, both strands."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n")
        fh.write("Background letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n")
        for m in motifs:
            ppm = np.clip(m.ppm, 0, None)
            ppm = ppm / np.maximum(ppm.sum(axis=1, keepdims=True), 1e-12)
            fh.write(f"MOTIF {m.name} {m.consensus}\n")
            fh.write(f"letter-probability matrix: alength= 4 w= {len(ppm)} nsites= {m.n_seqlets} E= 0\n")
            fh.writelines(" ".join(f"{v:.6f}" for v in row) + "\n" for row in ppm)
            fh.write("\n")


def write_logos(motifs: list[Motif], directory: str | os.PathLike[str]) -> list[Path]:
    """``<name>.png`` and ``<name>.svg`` of each motif's contribution weight matrix."""
    logomaker = require("logomaker", "--logos")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for m in motifs:
        fig, ax = plt.subplots(figsize=(max(3.0, 0.4 * len(m.cwm)), 2.0))
        logomaker.Logo(pd.DataFrame(m.cwm, columns=list("ACGT")), ax=ax)
        ax.set_title(f"{m.name} ({m.n_seqlets} seqlets) {m.consensus}", fontsize=9)
        ax.set_ylabel("contribution")
        for ext in ("png", "svg"):
            with atomic_path(out_dir / f"{m.name}.{ext}") as tmp:
                fig.savefig(tmp, format=ext, bbox_inches="tight", dpi=150)
            written.append(out_dir / f"{m.name}.{ext}")
        plt.close(fig)
    return written


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of a vector of p-values."""
    p = np.asarray(p, np.float64)
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out


def match_motifs(motifs: list[Motif], database: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """TomTom matches of every motif against a MEME database: one dict per (query, target), best first."""
    io = require("memelite.io", "--db")
    tomtom = require("memelite.tomtom", "--db")
    db = io.read_meme(str(database))
    if not db:
        raise ConfigError("no motifs in the database", path=database)
    names = list(db)
    targets = [np.asarray(db[n], np.float64) for n in names]  # (4, W) each
    queries = [np.asarray(m.ppm.T, np.float64) for m in motifs]
    if not queries:
        return []
    p, _scores, offsets, _overlaps, strands = tomtom.tomtom(queries, targets, n_jobs=1)[:5]
    rows = []
    for qi, m in enumerate(motifs):
        q = bh_qvalues(p[qi])
        for ti in np.argsort(p[qi]):
            rows.append({
                "query": m.name, "target": names[ti], "p_value": float(p[qi, ti]), "q_value": float(q[ti]),
                "offset": int(offsets[qi, ti]), "orientation": "-" if int(strands[qi, ti]) else "+",
            })
    return rows


def write_matches(rows: list[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    cols = ["query", "target", "p_value", "q_value", "offset", "orientation"]
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write("\t".join(cols) + "\n")
        for r in rows:
            fh.write("\t".join(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols) + "\n")
