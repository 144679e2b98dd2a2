"""Benchmark the embedding cache: cold run vs cached rerun, file sizes, random id lookups.

    .venv/bin/python bench/embed.py [--n 100000] [--threads 1] [--workdir DIR]

What it measures (all in one run, so ratios compare like with like):

1. ``embed(model, fasta, cache=...)`` on N synthetic random 200-bp DNA
   sequences (seeded; all distinct), cold (empty cache) and again fully cached,
   for two real models trained here on ``data/ienhancer2l_enhancer``: a tiny
   CNN-LSTM (1 epoch; its weights do not matter for timing) and kmer-linear
   (k=4; a model so cheap that caching can barely beat recomputing).
   Target: cached rerun >= 20x faster than cold (CNN-LSTM).
2. File size of N rows for float32/float16 x none/lzf/gzip, extrapolated
   linearly to 1 M rows (x 1e6/N; chunked datasets grow linearly), and the
   write (fold) time.
3. 1,000 random id lookups on each N-row cache: first call (opening the cache
   and building the id index included) and a second call; also 1,000 single
   ``get_by_id`` calls. Target: < 0.5 s for the first ``get_many`` on N = 100k.

4. ``bioseq embed`` as a command (a subprocess each, start-up included) on
   12,000 sequences with the tiny CNN-LSTM: cold (torch import, model load,
   every row computed) and the fully cached rerun, which reads only the bundle's
   metadata and the cache (no torch import, no weights; it must say
   "model not loaded"). Target: rerun >= 10x faster than cold.

Timings are single runs (lookups: best of 3) on a shared 2-core machine; no seeds
to vary beyond the data, which is fixed.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/embed.py` puts bench/ first on sys.path, where bench/tokenize.py
# would shadow the standard library's tokenize module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "ienhancer2l_enhancer"


def make_fasta(path: Path, n: int, length: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(path, "w") as fh:
        for start in range(0, n, 10000):
            m = min(10000, n - start)
            codes = letters[rng.integers(0, 4, size=(m, length))]
            fh.write("".join(f">s{start + i}\n{row.tobytes().decode()}\n" for i, row in enumerate(codes)))


def train_models(workdir: Path) -> dict[str, Path]:
    import bioseq

    out = {}
    path = workdir / "cnn_lstm.safetensors"
    bioseq.train(str(DATA / "train.fa.gz"), str(DATA / "valid.fa.gz"), arch="cnn-lstm", epochs=1,
                 hparams={"conv_filters": [32], "conv_kernels": [15], "pool_sizes": [8], "rnn_hidden": 16,
                          "head_hidden": 0},
                 output=path, progress=False, seed=0)
    out["cnn-lstm (tiny)"] = path
    path = workdir / "kmer_linear.safetensors"
    bioseq.train(str(DATA / "train.fa.gz"), str(DATA / "valid.fa.gz"), arch="kmer-linear", k=4,
                 output=path, progress=False)
    out["kmer-linear k=4"] = path
    return out


def timed(fn):
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t


def bench_rerun(name: str, model_path: Path, fasta: Path, workdir: Path) -> tuple[float, np.ndarray, object]:
    import bioseq
    from bioseq.embed import EmbedStats, embed

    model = bioseq.load(model_path)
    model.embed_sequences(["ACGT" * 50] * 64)  # warm-up
    cache = workdir / f"{model_path.stem}.h5"
    cold_stats, warm_stats = EmbedStats(), EmbedStats()
    cold, t_cold = timed(lambda: embed(model, fasta, cache=cache, stats=cold_stats))
    warm, t_warm = timed(lambda: embed(model, fasta, cache=cache, stats=warm_stats))
    same = np.array_equal(cold, warm)
    ratio = t_cold / t_warm
    print(f"  {name:18s} D={model.embedding_dim:<4d} cold {t_cold:7.2f} s ({cold_stats.n_computed} "
          f"computed, {len(cold) / t_cold:8.0f} seq/s)   cached rerun {t_warm:6.2f} s "
          f"({warm_stats.n_computed} computed, {len(warm) / t_warm:8.0f} seq/s)   ratio {ratio:6.1f}x   "
          f"identical={same}")
    return ratio, cold, model


def bench_sizes(model, emb: np.ndarray, ids: list[str], workdir: Path) -> dict[tuple[str, str], Path]:
    from bioseq.embed import CacheWriter, EmbeddingBatch, sequence_keys
    from bioseq.embed.embed import model_attrs

    n = len(ids)
    keys = sequence_keys(model.fingerprint, [f"synthetic{i}" for i in range(n)])
    files = {}
    print(f"  {'dtype':8s} {'compr.':6s} {'MB for N':>9s} {'GB per 1M rows':>15s} {'write s':>8s}")
    for dtype in ("float32", "float16"):
        for comp in ("none", "lzf", "gzip"):
            path = workdir / f"size_{dtype}_{comp}.h5"
            t = time.perf_counter()
            with CacheWriter(path, model_attrs(model), dtype=dtype, compression=comp, segment_rows=n) as w:
                w.write(EmbeddingBatch(ids, keys, emb))
            dt = time.perf_counter() - t
            size = path.stat().st_size
            files[(dtype, comp)] = path
            print(f"  {dtype:8s} {comp:6s} {size / 1e6:9.1f} {size * 1e6 / n / 1e9:15.3f} {dt:8.2f}")
    return files


def bench_lookups(files: dict, ids: list[str]) -> float:
    from bioseq.embed import EmbeddingCache

    rng = np.random.default_rng(1)
    worst_first = 0.0
    print(f"  {'dtype':8s} {'compr.':6s} {'first get_many (open+index) s':>30s} {'again s':>8s} "
          f"{'1000x get_by_id s':>18s}")
    for (dtype, comp), path in files.items():
        firsts, agains, singles = [], [], []
        for _ in range(3):
            pick = [ids[i] for i in rng.choice(len(ids), 1000, replace=False)]
            t = time.perf_counter()
            with EmbeddingCache(path) as cache:
                a = cache.get_many(pick)
                firsts.append(time.perf_counter() - t)
                pick2 = [ids[i] for i in rng.choice(len(ids), 1000, replace=False)]
                _, t2 = timed(lambda c=cache, p=pick2: c.get_many(p))
                agains.append(t2)
                _, t3 = timed(lambda c=cache, p=pick2: [c.get_by_id(i) for i in p])
                singles.append(t3)
            assert a.shape == (1000, a.shape[1])
        print(f"  {dtype:8s} {comp:6s} {min(firsts):30.3f} {min(agains):8.3f} {min(singles):18.3f}")
        worst_first = max(worst_first, min(firsts))
    return worst_first


def bench_cli_rerun(model_path: Path, workdir: Path, n: int, threads: int) -> float:
    """Cold ``bioseq embed`` vs its fully cached rerun, each a fresh process; returns the ratio."""
    import subprocess

    fasta, cache = workdir / "cli_seqs.fa", workdir / "cli_cache.h5"
    make_fasta(fasta, n, 200, seed=7)
    make_fasta(workdir / "cli_warmup.fa", 100, 200, seed=8)

    def cmd(inp: Path, out: Path) -> list[str]:
        return [sys.executable, "-m", "bioseq", "embed", str(model_path), str(inp), "--cache", str(out),
                "--threads", str(threads), "--device", "cpu", "--no-progress"]

    # Byte-code is cached as in an installed package (this machine sets PYTHONDONTWRITEBYTECODE,
    # which would make every process compile bioseq again), and a throwaway run fills that cache
    # for the cold path, so neither timed run pays compilation.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads),
           "PYTHONPYCACHEPREFIX": str(workdir / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(cmd(workdir / "cli_warmup.fa", workdir / "cli_warmup.h5"), check=True, capture_output=True,
                   env=env, cwd=workdir)
    times, errs = [], []
    for _ in range(2):
        t = time.perf_counter()
        proc = subprocess.run(cmd(fasta, cache), capture_output=True, text=True, env=env, cwd=workdir)
        times.append(time.perf_counter() - t)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        errs.append(proc.stderr.strip().splitlines()[-1])
    assert "(model not loaded)" in errs[1], errs[1]
    ratio = times[0] / times[1]
    print(f"  cold    {times[0]:6.2f} s   {errs[0]}")
    print(f"  rerun   {times[1]:6.2f} s   {errs[1]}")
    print(f"  ratio   {ratio:6.1f}x")
    return ratio


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="sequences (default 100000)")
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    ap.add_argument("--workdir", type=Path, help="keep files here (default: a temp dir, deleted)")
    ap.add_argument("--cli-n", type=int, default=12_000, help="sequences of the CLI rerun case (default 12000)")
    ap.add_argument("--cli-only", action="store_true", help="only case 4 (the CLI rerun)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_embed_"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        fasta = workdir / "seqs.fa"
        make_fasta(fasta, args.n, args.length)
        print(f"{args.n} random {args.length}-bp sequences, torch threads={args.threads}, "
              f"cpus={os.cpu_count()}")
        models, t_train = timed(lambda: train_models(workdir))
        print(f"trained models in {t_train:.1f} s")
        if args.cli_only:
            print(f"4. bioseq embed on {args.cli_n} sequences, cold vs fully cached rerun (subprocesses):")
            cli_ratio = bench_cli_rerun(models["cnn-lstm (tiny)"], workdir, args.cli_n, args.threads)
            print(f"  target >= 10x  {'PASS' if cli_ratio >= 10 else 'FAIL'}")
            return 0 if cli_ratio >= 10 else 1
        print("1. cold vs fully cached rerun (embed(model, fasta, cache=...)):")
        results = {name: bench_rerun(name, path, fasta, workdir) for name, path in models.items()}
        ratio, emb, model = results["cnn-lstm (tiny)"]
        ids = [f"s{i}" for i in range(args.n)]
        print(f"2. file size ({args.n} rows of the tiny CNN-LSTM's D={emb.shape[1]} embeddings; per 1M rows "
              f"= size x {1e6 / args.n:g}, extrapolated):")
        files = bench_sizes(model, emb, ids, workdir)
        print(f"3. 1,000 random id lookups on {args.n}-row caches (best of 3):")
        worst = bench_lookups(files, ids)
        print(f"4. bioseq embed on {args.cli_n} sequences, cold vs fully cached rerun (subprocesses):")
        cli_ratio = bench_cli_rerun(models["cnn-lstm (tiny)"], workdir, args.cli_n, args.threads)
        print("summary:")
        ok_ratio = ratio >= 20
        ok_cli = cli_ratio >= 10
        ok_lookup = worst < 0.5
        print(f"  cached rerun / cold (tiny CNN-LSTM): {ratio:.1f}x  target >= 20x  "
              f"{'PASS' if ok_ratio else 'FAIL'}")
        k_ratio = results["kmer-linear k=4"][0]
        print(f"  cached rerun / cold (kmer-linear):   {k_ratio:.1f}x  (informative: the model costs "
              "about as much as reading the cache)")
        print(f"  1,000 random id lookups, worst first call: {worst:.3f} s  target < 0.5 s  "
              f"{'PASS' if ok_lookup else 'FAIL'}")
        print(f"  bioseq embed cached rerun / cold (CLI, start-up included): {cli_ratio:.1f}x  target >= 10x  "
              f"{'PASS' if ok_cli else 'FAIL'}")
        print(f"total {time.perf_counter() - t0:.0f} s")
        return 0 if ok_ratio and ok_lookup and ok_cli else 1
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
