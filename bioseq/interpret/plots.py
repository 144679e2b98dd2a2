"""Attribution tracks: one figure per explained class, its most confident records one under the other.

What a reader of a report wants to see next to a motif logo: does the model
look at the same bases in single records? For every class of an attribution
file (``bioseq explain ... -o OUT.h5``), :func:`plot_tracks` draws the
``per_class`` records that the model gave the highest probability of that
class (ties and unknown probabilities: input order) as tracks of the
observed-base score (:func:`~bioseq.interpret.attributions.observed_scores`):
a letter logo (logomaker) where each letter's height is its score, up to
:data:`MAX_LETTERS` bases, and bars coloured by base beyond (letters would be
unreadable). Files are ``<class>.png`` in the directory, the class name with
any character outside ``[A-Za-z0-9_.-]`` replaced by ``_`` (and ``_<n>`` appended
should two names then collide).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from bioseq.errors import ConfigError
from bioseq.interpret.attributions import AttributionFile, observed_scores, read_attributions
from bioseq.interpret.extras import require
from bioseq.io.atomic import atomic_path

MAX_LETTERS = 200  # longer records are drawn as bars
# logomaker's classic colours for DNA/RNA; other letters grey.
COLOURS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839", "U": "#D62839"}


def track_file_name(label: str) -> str:
    """``<class>.png`` with the class name made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", label) + ".png"


def top_records(att: AttributionFile, per_class: int) -> dict[str, list[int]]:
    """class -> indices of its ``per_class`` most probable records (most probable first), classes sorted."""
    if per_class < 1:
        raise ConfigError(f"records per class must be positive, got {per_class}")
    by_class: dict[str, list[int]] = {}
    for i, target in enumerate(att.targets):
        by_class.setdefault(target, []).append(i)
    prob = np.nan_to_num(att.probabilities, nan=-1.0)
    return {c: sorted(idx, key=lambda i: (-prob[i], i))[:per_class] for c, idx in sorted(by_class.items())}


def _draw_track(ax, seq: str, score: np.ndarray, letters: str, logomaker) -> None:
    """One record's observed-base scores (``(L,)``) on ``ax``: letters, or bars for long records."""
    if len(seq) <= MAX_LETTERS and logomaker is not None:
        import pandas as pd

        matrix = np.zeros((len(seq), len(letters)), np.float32)
        for i, base in enumerate(seq):
            if base in letters:
                matrix[i, letters.index(base)] = score[i]
        logomaker.Logo(pd.DataFrame(matrix, columns=list(letters)), ax=ax, color_scheme="classic")
    else:
        ax.bar(np.arange(len(seq)), score, width=1.0, color=[COLOURS.get(b, "#888888") for b in seq])
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlim(-0.5, len(seq) - 0.5)


def plot_tracks(path: str | os.PathLike[str], directory: str | os.PathLike[str], *, per_class: int = 3) -> list[Path]:
    """Write ``<class>.png`` for every class explained in the attribution file ``path``: the tracks
    of its ``per_class`` most confident records. Returns the files written (classes sorted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    att = read_attributions(path)
    logomaker = require("logomaker", "attribution tracks") if any(len(s) <= MAX_LETTERS for s in att.sequences) \
        else None
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for label, rows in top_records(att, per_class).items():
        width = min(16.0, max(6.0, 0.12 * max(len(att.sequences[i]) for i in rows)))
        fig, axes = plt.subplots(len(rows), 1, figsize=(width, 1.6 * len(rows)), squeeze=False)
        for ax, i in zip(axes[:, 0], rows, strict=True):
            seq = att.sequences[i]
            _draw_track(ax, seq, observed_scores(att.scores[i], seq, att.letters, att.method), att.letters, logomaker)
            p = att.probabilities[i]
            ax.set_title(f"{att.ids[i]}: {label}" + ("" if np.isnan(p) else f" (p = {p:.3f})"), fontsize=9, loc="left")
            ax.set_ylabel(att.method, fontsize=8)
        axes[-1, 0].set_xlabel("position (0-based)")
        fig.tight_layout()
        target = out_dir / track_file_name(label)
        if target in written:  # two class names that differ only in unsafe characters
            target = target.with_name(f"{target.stem}_{len(written)}.png")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)
        written.append(target)
    return written
