"""FASTA reading speed of bioseq against Biopython, measured in the same run.

Builds a FASTA of at least ``--mbases`` megabases from the real datasets in
``data/`` (their records repeated with unique ids, wrapped at 60 like the
originals) in a temporary directory, plain and gzip-compressed, and times, best
of ``--repeats`` runs each:

* ``bioseq iter_columns`` (the path that feeds prediction and embedding: id and
  sequence lists per chunk, validated, labels not parsed; target >= 0.8x
  ``SimpleFastaParser``) and ``bioseq iter_sequences`` (+ labels, a
  ``SequenceItem`` per record; information),
* Biopython ``SimpleFastaParser`` (the reference),
* Biopython ``SeqIO.parse`` and ``bioseq.read`` (target: ``read`` >= 1.0x ``SeqIO.parse``).

Every contender does its job completely: ``iter_sequences``/``read`` also
validate (duplicate ids, letters), upper-case and parse labels. Biopython reads
``.gz`` through ``gzip.open`` (its usual use); bioseq through ``isal`` when
installed, which is part of what is measured.

Times are CPU seconds of this process (``time.process_time``), not wall time:
the machine is shared, and CPU time is what other users' load disturbs least.
The mix of records matters: short records (splice_uci 60 bp, AMPs ~30 aa) cost
per-record overhead, so ``--datasets`` selects the sources.

    python bench/read_speed.py                 # 50 Mbases from all four datasets
    python bench/read_speed.py --datasets ienhancer2l_enhancer gb_nontata_promoters_testsplit
    python bench/read_speed.py --mbases 200 --repeats 5
    python bench/read_speed.py --shapes        # + chromosome-sized and long-read files (information)

``--shapes`` also times two other shapes of ~50 Mbases of the same real DNA
(information, no target): 20 soft-masked "chromosomes" of 2.5 Mbases wrapped at
60 (a third of the letters lowercase, in runs), and 5,000 unwrapped 10 kb
"long reads".
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("splice_uci", "ienhancer2l_enhancer", "gb_nontata_promoters_testsplit", "ampscanner_v2_amp")
WIDTH = 60


def _real_records(data_dir: Path, datasets: Sequence[str] = DATASETS) -> list[tuple[str, str, str]]:
    """(id, description, sequence) of every record of every split of ``datasets``."""
    from Bio.SeqIO.FastaIO import SimpleFastaParser

    out = []
    for ds in datasets:
        for split in ("train", "valid", "test"):
            path = data_dir / ds / f"{split}.fa.gz"
            if not path.exists():
                continue
            with gzip.open(path, "rt") as fh:
                for title, seq in SimpleFastaParser(fh):
                    rid, _, desc = title.partition(" ")
                    out.append((rid, desc, seq))
    if not out:
        raise SystemExit(f"no datasets found under {data_dir}")
    return out


def build_fasta(
    path: Path, mbases: float, data_dir: Path = ROOT / "data", datasets: Sequence[str] = DATASETS
) -> tuple[int, int]:
    """Write >= ``mbases`` Mbases of real records (unique ids, 60 per line); return (records, bases)."""
    records = _real_records(data_dir, datasets)
    target = int(mbases * 1e6)
    n = bases = 0
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", **({"compresslevel": 6} if path.suffix == ".gz" else {})) as fh:
        copy = 0
        while bases < target:
            lines = []
            for rid, desc, seq in records:
                wrapped = "\n".join(seq[i : i + WIDTH] for i in range(0, len(seq), WIDTH))
                lines.append(f">{rid}_r{copy} {desc}\n{wrapped}\n")
                n += 1
                bases += len(seq)
            fh.write("".join(lines))
            copy += 1
    return n, bases


DNA_DATASETS = ("splice_uci", "ienhancer2l_enhancer", "gb_nontata_promoters_testsplit")


def build_shape(path: Path, shape: str, data_dir: Path = ROOT / "data", seed: int = 0) -> tuple[int, int]:
    """Write the ``chromosomes`` or ``long-reads`` file of ``--shapes``; return (records, bases).

    Records are random windows of the bundled real DNA, joined end to end.
    """
    import numpy as np

    pool = np.frombuffer("".join(seq.upper() for _, _, seq in _real_records(data_dir, DNA_DATASETS)).encode(),
                         np.uint8)
    rng = np.random.default_rng(seed)
    n, length, width = (20, 2_500_000, 60) if shape == "chromosomes" else (5_000, 10_000, 0)
    with open(path, "w") as fh:
        for i in range(n):
            starts = rng.integers(0, len(pool) - 1000, size=length // 1000)
            seq = np.concatenate([pool[s : s + 1000] for s in starts])
            if shape == "chromosomes":  # soft-mask runs of 200-2,000 letters, a third of them
                edges = np.cumsum(rng.integers(200, 2000, size=length // 200))
                masked = (np.searchsorted(edges, np.arange(length), side="right") % 3) == 0
                seq = np.where(masked, seq | 0x20, seq)  # ASCII lowercase
            text = seq.tobytes().decode()
            lines = [text[j : j + width] for j in range(0, length, width)] if width else [text]
            fh.write(f">{shape}_{i} synthetic from bundled DNA\n" + "\n".join(lines) + "\n")
    return n, n * length


def _best_interleaved(fns: dict[str, Callable[[], int]], repeats: int) -> dict[str, tuple[float, int]]:
    """Best CPU time of each contender; runs alternate (a, b, c, a, b, c...) so that a
    shared machine's changing load hits every contender alike."""
    best = dict.fromkeys(fns, float("inf"))
    counts = dict.fromkeys(fns, 0)
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.process_time()
            counts[name] = fn()
            best[name] = min(best[name], time.process_time() - t0)
    return {name: (best[name], counts[name]) for name in fns}


def _contenders(path: Path) -> dict[str, Callable[[], int]]:
    from Bio import SeqIO
    from Bio.SeqIO.FastaIO import SimpleFastaParser

    from bioseq.io.readers import iter_columns, iter_sequences, read

    def text_handle():
        return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)

    def simple() -> int:
        with text_handle() as fh:
            return sum(1 for _ in SimpleFastaParser(fh))

    def seqio() -> int:
        with text_handle() as fh:
            return sum(1 for _ in SeqIO.parse(fh, "fasta"))

    return {
        "bioseq iter_columns": lambda: sum(len(ids) for ids, _ in iter_columns(path, 4096)),
        "bioseq iter_sequences": lambda: sum(1 for _ in iter_sequences(path)),
        "SimpleFastaParser": simple,
        "bioseq read": lambda: sum(1 for _ in read(path)),
        "SeqIO.parse": seqio,
    }


def _report(path: Path, n: int, size_mb: float, repeats: int, targets: bool) -> None:
    """Time every contender on ``path`` and print their speeds and bioseq's ratios."""
    print(f"\n{path.name}: best of {repeats}, CPU seconds; MB/s of uncompressed FASTA")
    times = {}
    for name, (secs, count) in _best_interleaved(_contenders(path), repeats).items():
        if count != n:
            raise SystemExit(f"{name} read {count} records, expected {n}")
        times[name] = secs
        print(f"  {name:<22} {secs:7.3f} s  {size_mb / secs:7.1f} MB/s  {n / secs / 1e6:5.2f} M rec/s")
    fast = times["SimpleFastaParser"] / times["bioseq iter_columns"]
    items = times["SimpleFastaParser"] / times["bioseq iter_sequences"]
    full = times["SeqIO.parse"] / times["bioseq read"]

    def verdict(ratio: float, target: float) -> str:
        if not targets:
            return ""
        return f"(target >= {target:.2f}x) {'OK' if ratio >= target else 'BELOW TARGET'}"

    # iter_columns is what prediction and embedding read with (ids and
    # sequences in lists per chunk, validated, labels not parsed).
    print(f"  iter_columns / SimpleFastaParser speed:   {fast:.2f}x {verdict(fast, 0.8)}")
    print(f"  iter_sequences / SimpleFastaParser speed: {items:.2f}x (information: + labels, one tuple per record)")
    print(f"  read / SeqIO.parse speed:                 {full:.2f}x {verdict(full, 1.0)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mbases", type=float, default=50.0, help="size of the test file (default 50)")
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs (default 3)")
    parser.add_argument("--no-gzip", action="store_true", help="time the plain file only")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS, metavar="NAME",
                        help="datasets under data/ to take records from (default: all four)")
    parser.add_argument("--shapes", action="store_true",
                        help="also time chromosome-sized and long-read files (information)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bioseq-read-speed-") as tmp:
        plain = Path(tmp) / "reads.fa"
        t0 = time.perf_counter()
        n, bases = build_fasta(plain, args.mbases, datasets=args.datasets)
        size_mb = plain.stat().st_size / 1e6
        paths = [plain]
        if not args.no_gzip:
            paths.append(plain.with_suffix(".fa.gz"))
            with open(plain, "rb") as src, gzip.open(paths[-1], "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        print(f"{n:,} records, {bases / 1e6:.1f} Mbases, {size_mb:.1f} MB uncompressed, from "
              f"{', '.join(args.datasets)} (built in {time.perf_counter() - t0:.1f} s)")
        for path in paths:
            _report(path, n, size_mb, args.repeats, targets=True)
        if args.shapes:
            for shape in ("chromosomes", "long-reads"):
                path = Path(tmp) / f"{shape}.fa"
                t0 = time.perf_counter()
                count, bases = build_shape(path, shape)
                mb = path.stat().st_size / 1e6
                print(f"\n{shape}: {count:,} records, {bases / 1e6:.1f} Mbases, {mb:.1f} MB "
                      f"(built in {time.perf_counter() - t0:.1f} s); information, no target")
                _report(path, count, mb, args.repeats, targets=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
