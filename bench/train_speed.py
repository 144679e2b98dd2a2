"""Training throughput of ``bioseq train`` against the bare optimisation step of the same net.

For each architecture (cnn-lstm, transformer, dilated-cnn) and input (200 bp DNA, 430 aa
protein -- deeploc's median --, 1000 bp DNA) this times, in the same process
and on the same random labelled sequences with 2 torch threads:

* **bioseq**: ``bioseq.train`` for one epoch -- the work ``bioseq train`` does
  (read the FASTA, encode once, length-bucketed batches, forward, loss,
  backward, clipping, AdamW, the BatchNorm recalibration where the net has
  one, scoring a small validation set, early-stopping bookkeeping);
* **bare**: forward + cross-entropy + backward + clipping + AdamW step of a
  freshly built net with the same hyper-parameters, over batches padded and
  encoded beforehand, same batch size -- the floor no trainer can beat.

Both print training samples/s; ``bioseq / bare`` time is bioseq's overhead.
Both are warmed up first (first batches are slower) and timed ``--repeats``
times, interleaved, keeping the best. Throughput depends on the
load of the machine: the 1-minute load average is printed beside the figures.

    python bench/train_speed.py                     # everything (~6 min on an idle 2-core machine)
    python bench/train_speed.py --archs cnn-lstm --inputs protein430
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/X.py` puts bench/ first on sys.path, where bench/tokenize.py
# would shadow the standard library's tokenize module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import logging
import os
import random
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

ARCHS = ["cnn-lstm", "transformer", "dilated-cnn"]
# name -> (alphabet, letters, length, default number of training sequences)
INPUTS = {
    "dna200": ("dna", "ACGT", 200, 2048),
    "protein430": ("protein", "ACDEFGHIKLMNPQRSTVWY", 430, 512),
    "dna1000": ("dna", "ACGT", 1000, 384),
}
N_VALID = 64
BATCH_SIZE = 64


def write_fasta(path: Path, n: int, letters: str, length: int, seed: int) -> None:
    """``n`` random labelled records (``label=a|b``) of ``length`` letters."""
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(f">s{i} label={'ab'[i % 2]}\n{''.join(rng.choices(letters, k=length))}\n")


def bioseq_seconds(arch: str, train: Path, valid: Path, alphabet: str, threads: int) -> float:
    """Wall time of one ``bioseq.train`` epoch (plus its validation) on ``train``."""
    import bioseq

    t0 = time.perf_counter()
    bioseq.train(train, valid, arch=arch, alphabet=alphabet, epochs=1, batch_size=BATCH_SIZE,
                 threads=threads, patience=None, progress=False)
    return time.perf_counter() - t0


def bare_seconds(arch: str, train: Path, alphabet: str) -> float:
    """Forward + loss + backward + clip + AdamW over pre-encoded, pre-padded batches."""
    import torch
    import torch.nn.functional as F

    from bioseq.io.readers import iter_sequences
    from bioseq.models.registry import get_model, resolve_hparams
    from bioseq.tokenize.kmer import KmerTokenizer

    arch_cls = get_model(arch)
    tokenizer = KmerTokenizer(alphabet=alphabet, **arch_cls.default_tokenizer(alphabet))
    net = arch_cls.build(tokenizer.vocab_size, 2, resolve_hparams(arch_cls, alphabet, None)).train()
    items = list(iter_sequences(train))
    tokens, lengths = tokenizer.encode_batch([it.seq for it in items])
    ids_all = torch.from_numpy(tokens.astype("int64"))
    mask_all = torch.arange(ids_all.shape[1])[None, :] < torch.from_numpy(lengths)[:, None]
    y_all = torch.tensor([0 if it.labels == ("a",) else 1 for it in items])
    batches = [(ids_all[i : i + BATCH_SIZE], mask_all[i : i + BATCH_SIZE], y_all[i : i + BATCH_SIZE])
               for i in range(0, len(items), BATCH_SIZE)]
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)

    def step(ids, mask, y):
        loss = F.cross_entropy(net(ids, mask), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()

    step(*batches[0])  # warm-up
    t0 = time.perf_counter()
    for b in batches:
        step(*b)
    return time.perf_counter() - t0


def throughput(arch: str, name: str, n: int, threads: int, tmp: Path, repeats: int = 2) -> dict:
    alphabet, letters, length, _ = INPUTS[name]
    train, valid = tmp / f"{name}_train.fa", tmp / f"{name}_valid.fa"
    write_fasta(train, n, letters, length, seed=0)
    write_fasta(valid, N_VALID, letters, length, seed=1)
    write_fasta(tmp / "warm.fa", 2 * BATCH_SIZE, letters, length, seed=2)
    bioseq_seconds(arch, tmp / "warm.fa", valid, alphabet, threads)  # warm-up
    # Interleaved repeats, best of each: on a shared machine single timings vary 2-3x.
    full, bare = float("inf"), float("inf")
    for _ in range(repeats):
        full = min(full, bioseq_seconds(arch, train, valid, alphabet, threads))
        bare = min(bare, bare_seconds(arch, train, alphabet))
    return {"arch": arch, "input": name, "n": n, "bioseq_sps": n / full, "bare_sps": n / bare,
            "overhead": full / bare}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", nargs="+", default=ARCHS)
    parser.add_argument("--inputs", nargs="+", default=list(INPUTS), choices=list(INPUTS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of training sequences")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved timings of each; the best counts")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    logging.getLogger("bioseq").setLevel(logging.WARNING)
    print(f"{'arch':12} {'input':>11} {'seqs':>6} {'bioseq seq/s':>13} {'bare seq/s':>11} {'overhead':>9} "
          f"{'load':>5}")
    with tempfile.TemporaryDirectory() as tmpdir:
        for arch in args.archs:
            for name in args.inputs:
                n = max(2 * BATCH_SIZE, int(INPUTS[name][3] * args.scale))
                r = throughput(arch, name, n, args.threads, Path(tmpdir), args.repeats)
                print(f"{arch:12} {name:>11} {r['n']:6d} {r['bioseq_sps']:13.1f} {r['bare_sps']:11.1f} "
                      f"{r['overhead']:9.2f} {os.getloadavg()[0]:5.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
