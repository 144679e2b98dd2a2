"""Genome scans: ``bioseq scan`` against ``bioseq predict`` on the same windows, and memory.

1. **Throughput.** On a synthetic chromosome (default 0.2 Mb), ``scan_to_file`` (fetch
   blocks from the indexed FASTA, cut windows, score, write the bedGraph) is timed
   against ``predict_to_file`` on exactly the same windows pre-extracted to a FASTA
   file (read, validate, score, write the TSV) -- what a user would otherwise run.
   Same process, same model, 2 torch threads, best of three runs each (taking turns) after a
   warm-up.
   Target: scan <= 1.2x predict's time. Models: kmer-linear (window 200, the
   cheapest model, so any overhead of the scan shows) and an untrained cnn-lstm with
   ``max_tokens`` 200 (its training length is the window).
2. **Memory.** ``bioseq scan`` as a subprocess over a 20 Mb and a 100 Mb synthetic
   chromosome (kmer-linear, window 1000, stride 500); peak RSS of each (target:
   within 10 %: windows are cut from one block at a time, never the whole chromosome).

    python bench/genomics.py                   # everything (~3-5 min on 2 cores)
    python bench/genomics.py --skip-rss
    python bench/genomics.py --json bench/results/genomics.json
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/X.py` puts bench/ first on sys.path, where bench/tokenize.py
# would shadow the standard library's tokenize module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import random
import subprocess
import tempfile
import time

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_chromosome(path: Path, length: int, seed: int = 0, width: int = 60) -> Path:
    """One random chromosome ``chr1`` of ``length`` letters, ``width`` per line, written in blocks."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", np.uint8)
    block = width * 100_000
    with open(path, "wb") as fh:
        fh.write(b">chr1\n")
        for start in range(0, length, block):
            n = min(block, length - start)
            seq = letters[rng.integers(0, 4, n)]
            rows = -(-n // width)
            buf = np.full((rows, width + 1), ord("\n"), np.uint8)
            padded = np.zeros(rows * width, np.uint8)
            padded[:n] = seq
            buf[:, :width] = padded.reshape(rows, width)
            text = buf.tobytes()
            if n % width:  # the last, short line: drop the unused cells
                text = text[: (rows - 1) * (width + 1)] + seq[(rows - 1) * width :].tobytes() + b"\n"
            fh.write(text)
    return path


def make_model(arch: str, path: Path, max_tokens: int | None = None, length: int = 200):
    """An untrained model (kmer-linear: fitted on random sequences) saved as a bundle and loaded back,
    recording ``length`` as its training length (the default window of a scan), as training would."""
    import bioseq
    from bioseq.api import Model
    from bioseq.models.registry import get_model as get_arch
    from bioseq.tokenize.kmer import KmerTokenizer

    arch_cls = get_arch(arch)
    tokenizer = KmerTokenizer(alphabet="dna", **arch_cls.default_tokenizer("dna"))
    hparams = arch_cls.default_hparams("dna")
    if max_tokens is not None:
        hparams["max_tokens"] = max_tokens
    model = Model.create(arch, tokenizer, ["neg", "pos"], "binary", hparams)
    if model.kind == "sklearn":
        rng = random.Random(1)
        seqs = ["".join(rng.choices("ACGT", k=200)) for _ in range(200)]
        model.net.fit(seqs, np.array([i % 2 for i in range(200)]))
    model.metadata["train_lengths"] = {"min": length, "median": length, "max": length}
    model.save(path)
    return bioseq.load(path)


def windows_fasta(genome: Path, out: Path, window: int, stride: int) -> int:
    """The windows a scan scores, as FASTA records (what ``bioseq predict`` is given)."""
    from bioseq.genomics.genome import Genome

    n = 0
    with Genome(genome) as g, open(out, "w") as fh:
        length = g.lengths["chr1"]
        seq = g.fetch("chr1", 0, length)
        for s in range(0, length - window + 1, stride):
            fh.write(f">chr1_{s}\n{seq[s : s + window]}\n")
            n += 1
    return n


def best_of_alternating(fns: list, runs: int = 3) -> list[float]:
    """Best time of each function over ``runs`` rounds, the functions taking turns within a round
    (on a shared machine the load drifts; alternating exposes both to the same drift)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, t in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
    return [min(t) for t in times]


def throughput(arch: str, genome: Path, tmp: Path, window: int) -> dict:
    from bioseq.genomics.scan import scan_to_file
    from bioseq.predict import predict_to_file

    model = make_model(arch, tmp / f"{arch}.safetensors", max_tokens=window if arch != "kmer-linear" else None,
                       length=window)
    stride = window // 2
    fasta = tmp / f"windows_{window}.fa"
    n = windows_fasta(genome, fasta, window, stride)
    model.predict_proba_sequences(["ACGT" * (window // 4)] * 256)  # warm-up
    scan_s, predict_s = best_of_alternating([
        lambda: scan_to_file(model, genome, tmp / "scan.bedGraph"),  # the window: the training length
        lambda: predict_to_file(model, fasta, tmp / "predict.tsv"),
    ])
    rows = sum(1 for _ in open(tmp / "scan.bedGraph"))
    assert rows == n, (rows, n)
    return {"arch": arch, "window": window, "windows": n, "scan_s": round(scan_s, 3),
            "predict_s": round(predict_s, 3), "ratio": round(scan_s / predict_s, 3)}


def peak_rss_mb(model_path: Path, genome: Path, out: Path, window: int) -> tuple[float, float, int]:
    """Peak RSS (MiB), seconds and bedGraph rows of one ``bioseq scan`` subprocess, measured by a fresh parent."""
    code = (
        "import resource, subprocess, sys;"
        "subprocess.run(sys.argv[1:], check=True);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    cli = [sys.executable, "-m", "bioseq", "scan", str(model_path), "--genome", str(genome), "-o", str(out),
           "--window", str(window), "--threads", "2"]
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code, *cli], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    secs = time.perf_counter() - t0
    with open(out, "rb") as fh:
        rows = sum(1 for _ in fh)
    return int(res.stdout.strip().splitlines()[-1]) / 1024, secs, rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=0.2,
                    help="chromosome length for the throughput part (Mb; 0.2: 2k windows, ~10 s per cnn-lstm pass)")
    ap.add_argument("--archs", default="kmer-linear,cnn-lstm")
    ap.add_argument("--rss-mb", default="20,100", help="the two chromosome lengths of the memory part (Mb)")
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    results: dict = {"throughput": [], "rss": []}
    with tempfile.TemporaryDirectory(prefix="bioseq-bench-genomics-") as d:
        tmp = Path(d)
        if not args.skip_throughput:
            genome = write_chromosome(tmp / "small.fa", int(args.mb * 1e6))
            print(f"{'arch':12} {'window':>6} {'windows':>8} {'scan s':>8} {'predict s':>9} {'scan/predict':>12}")
            for arch in args.archs.split(","):
                r = throughput(arch, genome, tmp, 200)
                results["throughput"].append(r)
                print(f"{arch:12} {r['window']:6d} {r['windows']:8d} {r['scan_s']:8.2f} {r['predict_s']:9.2f} "
                      f"{r['ratio']:12.2f}   (target <= 1.2)")
        if not args.skip_rss:
            make_model("kmer-linear", tmp / "rss.safetensors")
            for mb in (float(x) for x in args.rss_mb.split(",")):
                genome = write_chromosome(tmp / f"chr_{mb:g}.fa", int(mb * 1e6))
                rss, secs, rows = peak_rss_mb(tmp / "rss.safetensors", genome, tmp / "rss.bedGraph", 1000)
                results["rss"].append({"mb": mb, "peak_rss_mib": round(rss, 1), "seconds": round(secs, 1),
                                       "windows": rows})
                print(f"scan over a {mb:g} Mb chromosome: {rows} windows, peak RSS {rss:.0f} MiB ({secs:.0f} s)")
                genome.unlink()
            if len(results["rss"]) == 2:
                a, b = (r["peak_rss_mib"] for r in results["rss"])
                results["rss_ratio"] = round(b / a, 3)
                print(f"peak RSS ratio {b / a:.3f} (target within 10%)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
