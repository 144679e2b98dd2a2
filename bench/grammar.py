"""Motif grammar: can a network learn the order and spacing of two motifs?

A synthetic, held-out check of what the accuracy issue measured: the class of
a 200 bp sequence depends on how two motifs sit relative to each other, not on
which k-mers it holds. Sequences carry an AP-1 site (``TGACTCA``), an E-box
(``CACGTG``) or both, written over a uniform random background (redrawn until
neither motif occurs by chance):

* positive: AP-1 first, then the E-box 4-20 bp after it;
* negative (a third each): the E-box first, then AP-1 4-20 bp after it (wrong
  order); AP-1 first and the E-box 40-100 bp after it (wrong spacing); one of
  the two motifs alone.

The lone motifs give a net a first signal (both motifs mean "maybe
positive"); a model that sees only which motifs are present reaches 2/3 test
accuracy at best (it must call every two-motif sequence positive), and only a
model that relates the two positions goes above. A k-mer spectrum sees little
more than presence (only the k-mers that straddle a near junction differ):
kmer-linear is the row that shows it. A net must relate two
positions. Each architecture (and each Transformer variant given with
``--variant NAME=JSON``) trains with ``bioseq.train`` within ``--budget``
minutes, early stopping on the validation split, for ``--seeds`` seeds; the
script prints test accuracy as mean ± standard deviation per row and its ratio
to the CNN-LSTM of the same run.

    python bench/grammar.py                       # defaults: 10 minutes, 3 seeds
    python bench/grammar.py --budget 3 --seeds 1 --variant 'stem={"conv_stem": 9}'
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/X.py` puts bench/ first on sys.path, where bench/tokenize.py
# would shadow the standard library's tokenize module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import gzip
import json
import statistics
import tempfile
import time

import numpy as np

AP1, EBOX = "CCGCGAGGTGGCAG", "GGGCATGCCC"
LENGTH = 200
NEAR = (4, 20)  # gap in bp between the end of the first motif and the start of the second
FAR = (40, 100)
SPLITS = {"train": 6000, "valid": 1500, "test": 3000}


def background(rng: np.random.Generator) -> str:
    """A uniform random ``LENGTH`` bp sequence holding neither motif on the given strand (the
    strand every net reads)."""
    while True:
        seq = "".join(rng.choice(list("ACGT"), LENGTH))
        if AP1 not in seq and EBOX not in seq:
            return seq


def place(seq: str, first: str, second: str, gap: int, rng: np.random.Generator) -> str:
    """``seq`` with ``first``, ``gap`` bp of its own background, then ``second`` written over it at
    a random offset."""
    span = len(first) + gap + len(second)
    start = int(rng.integers(0, LENGTH - span + 1))
    mid = start + len(first) + gap
    return seq[:start] + first + seq[start + len(first):mid] + second + seq[mid + len(second):]


def example(rng: np.random.Generator) -> tuple[str, str]:
    """One ``(sequence, label)``: positive half the time, else one of the three negatives."""
    seq = background(rng)
    kind = rng.integers(0, 6)
    near = int(rng.integers(NEAR[0], NEAR[1] + 1))
    if kind < 3:
        return place(seq, AP1, EBOX, near, rng), "grammar"
    if kind == 3:
        return place(seq, EBOX, AP1, near, rng), "no_grammar"
    if kind == 4:
        return place(seq, AP1, EBOX, int(rng.integers(FAR[0], FAR[1] + 1)), rng), "no_grammar"
    start = int(rng.integers(0, LENGTH - len(AP1) + 1))
    motif = AP1 if rng.integers(0, 2) else EBOX
    return seq[:start] + motif + seq[start + len(motif):], "no_grammar"


def write_splits(folder: Path, data_seed: int = 0) -> dict[str, Path]:
    """The three labelled FASTA files (``>id label=NAME``), the same for a given ``data_seed``."""
    rng = np.random.default_rng(data_seed)
    paths = {}
    for split, n in SPLITS.items():
        path = paths[split] = folder / f"{split}.fa.gz"
        with gzip.open(path, "wt") as out:
            for i in range(n):
                seq, label = example(rng)
                out.write(f">{split}{i} label={label}\n{seq}\n")
    return paths


def test_accuracy(model, test: Path) -> float:
    from bioseq.io.readers import iter_sequences

    truth = {item.id: item.labels[0] for item in iter_sequences(test)}
    preds = model.predict(test)
    return float(np.mean([truth[i] == p for i, p in zip(preds.ids, preds.predicted, strict=True)]))


def main(argv: list[str] | None = None) -> int:
    import bioseq

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=10.0, help="training minutes per run")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--archs", nargs="*", default=["cnn-lstm", "transformer", "kmer-linear"],
                        help="architectures to compare (dilated-cnn: the third trunk)")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME=JSON: a Transformer with these hyper-parameter overrides, as another row")
    parser.add_argument("--json", type=Path, help="write every run here")
    args = parser.parse_args(argv)
    rows = [(arch, arch, None) for arch in args.archs]
    for spec in args.variant:
        name, _, overrides = spec.partition("=")
        rows.append((f"transformer {name}", "transformer", json.loads(overrides)))
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_splits(Path(tmp))
        for seed in range(args.seeds):
            for label, arch, hparams in rows:
                t0 = time.perf_counter()
                model = bioseq.train(paths["train"], paths["valid"], arch=arch, hparams=hparams, seed=seed,
                                     max_time=args.budget, threads=args.threads)
                acc = test_accuracy(model, paths["test"])
                runs.append({"row": label, "seed": seed, "accuracy": acc, "train_s": time.perf_counter() - t0})
                print(f"{label} seed {seed}: test accuracy {acc:.3f} ({runs[-1]['train_s']:.0f} s)", flush=True)
                if args.json:
                    args.json.write_text(json.dumps({"budget_min": args.budget, "runs": runs}, indent=1))
    ref = [r["accuracy"] for r in runs if r["row"] == "cnn-lstm"]
    print(f"\n{'row':40} {'test accuracy':>16} {'vs cnn-lstm':>12}")
    for label, _, _ in rows:
        accs = [r["accuracy"] for r in runs if r["row"] == label]
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        ratio = f"{statistics.fmean(accs) / statistics.fmean(ref):.3f}x" if ref else "-"
        print(f"{label:40} {statistics.fmean(accs):7.3f} ± {sd:.3f} {ratio:>12}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
