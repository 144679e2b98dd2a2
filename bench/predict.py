"""Prediction throughput and memory of ``bioseq predict`` against the bare forward pass.

For each architecture at 200 bp and 1000 bp this times, in the same process and
on the same sequences with 2 torch threads:

* **bioseq**: ``Model.predict_to_file`` -- the work ``bioseq predict`` does
  (read FASTA, validate, tokenize, batch, forward, write the TSV atomically);
* **bare**: the network's forward pass over tensors encoded beforehand, same
  batch size -- the floor no wrapper can beat.

``bioseq / bare`` time is bioseq's overhead (target <= 1.25). Both are warmed up
first (first batches are 2-3x slower). The weights are untrained: speed
does not depend on them.

Then it runs ``bioseq predict`` as a subprocess on 200k and on 1M sequences and
compares peak RSS (target: within 10%), showing that memory is flat in the
number of sequences. That part uses ``kmer-linear`` by default because a neural
net would take ~10 minutes per million sequences on 2 cores; the streaming path
(read -> chunk -> score -> write) is the same for every architecture.

    python bench/predict.py                     # everything (~6 min)
    python bench/predict.py --skip-rss          # throughput only
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/X.py` puts bench/ first on sys.path, where bench/tokenize.py
# would shadow the standard library's tokenize module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

ARCHS = ["cnn-lstm", "transformer", "kmer-linear"]


def write_fasta(path: Path, n: int, length: int, seed: int = 0) -> None:
    """``n`` random DNA records of ``length`` bp, written in blocks (fast for 1M records)."""
    rng = random.Random(seed)
    with open(path, "w") as fh:
        block = []
        for i in range(n):
            seq = "".join(rng.choices("ACGT", k=length))
            block.append(f">s{i}\n{seq}\n")
            if len(block) == 10000:
                fh.write("".join(block))
                block.clear()
        fh.write("".join(block))


def make_model(arch: str, path: Path):
    """An untrained model with the architecture's DNA defaults, saved as a bundle."""
    import bioseq
    from bioseq.api import Model
    from bioseq.models.registry import get_model as get_arch
    from bioseq.tokenize.kmer import KmerTokenizer

    arch_cls = get_arch(arch)
    tokenizer = KmerTokenizer(alphabet="dna", **arch_cls.default_tokenizer("dna"))
    model = Model.create(arch, tokenizer, ["neg", "pos"], "binary", arch_cls.default_hparams("dna"))
    if model.kind == "sklearn":  # a linear model must be fitted before it predicts
        rng = random.Random(1)
        seqs = ["".join(rng.choices("ACGT", k=200)) for _ in range(200)]
        import numpy as np

        model.net.fit(seqs, np.array([i % 2 for i in range(200)]))
    model.save(path)
    return bioseq.load(path)


def bare_forward_seconds(model, seqs: list[str], batch_size: int) -> float:
    """Forward pass only, over pre-encoded padded batches (no reading, no writing)."""
    if model.kind != "torch":
        t0 = time.perf_counter()
        model.net.predict_proba(seqs)
        return time.perf_counter() - t0
    import torch

    tokens, lengths = model.tokenizer.encode_batch(seqs)
    ids_all = torch.from_numpy(tokens.astype("int64"))
    mask_all = torch.arange(ids_all.shape[1])[None, :] < torch.from_numpy(lengths)[:, None]
    batches = [
        (ids_all[i : i + batch_size], mask_all[i : i + batch_size]) for i in range(0, len(seqs), batch_size)
    ]
    net = model.net.eval()
    with torch.inference_mode():
        net(*batches[0])  # warm-up
        t0 = time.perf_counter()
        for ids, mask in batches:
            torch.softmax(net(ids, mask), -1)
        return time.perf_counter() - t0


def throughput(arch: str, length: int, n: int, batch_size: int, tmp: Path, min_seconds: float = 1.0) -> dict:
    """Time both contenders on ``n`` sequences, or on more when the bare pass would take
    under ``min_seconds``: a fast model (kmer-linear) on a few thousand sequences runs
    for milliseconds, where opening files and timer noise decide the ratio."""
    model = make_model(arch, tmp / f"{arch}.safetensors")
    from bioseq.io.readers import iter_sequences

    while True:
        fasta = tmp / f"in_{length}_{n}.fa"
        if not fasta.exists():
            write_fasta(fasta, n, length)
        seqs = [it.seq for it in iter_sequences(fasta)]
        model.predict_proba_sequences(seqs[:batch_size], batch_size=batch_size)  # warm-up
        bare = min(bare_forward_seconds(model, seqs, batch_size) for _ in range(2))
        if bare >= min_seconds:
            break
        n = int(n * min(50.0, 1.2 * min_seconds / bare))
    wrapped = []
    for _ in range(2):
        t0 = time.perf_counter()
        model.predict_to_file(fasta, tmp / "out.tsv", batch_size=batch_size)
        wrapped.append(time.perf_counter() - t0)
    full = min(wrapped)
    return {"arch": arch, "length": length, "n": n, "bioseq_sps": n / full, "bare_sps": n / bare,
            "overhead": full / bare}


def peak_rss_mb(model_path: Path, fasta: Path, out: Path) -> float:
    """Peak RSS of one ``bioseq predict`` subprocess, measured by a fresh parent."""
    code = (
        "import resource, subprocess, sys;"
        "subprocess.run(sys.argv[1:], check=True);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    bioseq_cli = [sys.executable, "-m", "bioseq", "predict", str(model_path), str(fasta), "-o", str(out),
                  "--threads", "2"]
    res = subprocess.run([sys.executable, "-c", code, *bioseq_cli], capture_output=True, text=True, check=True)
    return int(res.stdout.strip().splitlines()[-1]) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", nargs="+", default=ARCHS)
    parser.add_argument("--n200", type=int, default=4000, help="sequences timed at 200 bp")
    parser.add_argument("--n1000", type=int, default=1000, help="sequences timed at 1000 bp")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rss-arch", default="kmer-linear")
    parser.add_argument("--rss-sizes", type=int, nargs=2, default=[200_000, 1_000_000])
    parser.add_argument("--skip-rss", action="store_true")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        print(f"{'arch':12} {'length':>6} {'seqs':>7} {'bioseq seq/s':>13} {'bare seq/s':>11} {'overhead':>9}  "
              "target <= 1.25")
        ok = True
        for arch in args.archs:
            for length, n in ((200, args.n200), (1000, args.n1000)):
                r = throughput(arch, length, n, args.batch_size, tmp)
                passed = r["overhead"] <= 1.25
                ok &= passed
                print(f"{arch:12} {length:6d} {r['n']:7d} {r['bioseq_sps']:13.0f} {r['bare_sps']:11.0f} "
                      f"{r['overhead']:9.2f}  {'PASS' if passed else 'FAIL'}", flush=True)
        if not args.skip_rss:
            model_path = tmp / f"rss-{args.rss_arch}.safetensors"
            make_model(args.rss_arch, model_path)
            rss = []
            for n in args.rss_sizes:
                fasta = tmp / f"rss_{n}.fa"
                write_fasta(fasta, n, 200, seed=n)
                t0 = time.perf_counter()
                rss.append(peak_rss_mb(model_path, fasta, tmp / "rss.tsv"))
                print(f"peak RSS predicting {n:>9,} x 200 bp with {args.rss_arch}: {rss[-1]:7.1f} MB "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
                fasta.unlink()
            ratio = rss[1] / rss[0]
            passed = ratio <= 1.10
            ok &= passed
            print(f"RSS ratio {args.rss_sizes[1]:,} / {args.rss_sizes[0]:,}: {ratio:.3f}  target <= 1.10  "
                  f"{'PASS' if passed else 'FAIL'}")
    print("ALL PASS" if ok else "SOME TARGETS MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
