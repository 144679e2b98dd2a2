"""Benchmark attributions: ISM against the bare forward passes it needs, and a gradient method.

    .venv/bin/python bench/explain.py [--n 1000] [--length 200] [--threads 2] [--batch-size 256]
                                       [--gradient saliency|ig|deepliftshap]

What it measures (one run, so the ratio compares like with like):

1. ``model.explain(records, method="ism", target=0)`` on N random sequences of
   the given length with the default CNN-LSTM (untrained: weights do not change
   the cost): all ``3 L`` mutants and the reference of every record.
2. The bare forward passes of exactly those ``N (3 L + 1)`` sequences: token
   tensors built beforehand, ``net(ids, mask)`` in batches of the same size
   under ``torch.inference_mode()``, nothing else timed.
   Target: ISM throughput >= 0.8 x the bare passes' (overhead <= 25 %).
3. The gradient method (default saliency) on the same records: records/s.

``explain`` also runs one forward pass per record for the target's probability
(kept in attribution files): N passes more than the N (3 L + 1) counted, 0.2 %
at 200 bp, charged to ISM here.

Single runs on a shared machine; torch threads as given. Besides wall-clock
throughput, the ISM/bare ratio is also printed from process CPU seconds, which
other jobs on the machine barely move.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402

import numpy as np  # noqa: E402


def timed(fn) -> tuple[float, float]:
    """``(wall seconds, process CPU seconds)`` of ``fn()``: on a machine shared with other jobs the
    wall-clock ratio follows their load, the CPU-time ratio much less."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def bare_passes(net, batches) -> None:
    """``net(ids, mask)`` on every batch of token ids ``(B, L)``, nothing else."""
    import torch

    with torch.inference_mode():
        for ids in batches:
            net(ids, torch.ones(ids.shape, dtype=torch.bool))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--gradient", default="saliency", choices=["saliency", "ig", "deepliftshap"])
    args = ap.parse_args()

    import torch
    from Bio.Seq import Seq
    from Bio.SeqRecord import SeqRecord

    from bioseq.api import Model
    from bioseq.interpret.ism import mutant_bytes, mutant_plan
    from bioseq.models.registry import get_model
    from bioseq.tokenize.kmer import KmerTokenizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    arch = get_model("cnn-lstm")
    tok = KmerTokenizer(alphabet="dna", **arch.default_tokenizer("dna"))
    model = Model.create("cnn-lstm", tok, ["a", "b"], "binary", arch.default_hparams("dna"))
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), args.length)) for _ in range(args.n)]
    records = [SeqRecord(Seq(s), id=f"s{i}") for i, s in enumerate(seqs)]

    # Bare forward passes: the same sequences, tokenised and batched beforehand.
    tokens = []
    for s in seqs:
        block = mutant_bytes(s, "ACGT", *mutant_plan(s, "ACGT"))
        mat, _ = tok.encode_batch([r.tobytes().decode() for r in block])
        tokens.append(mat.astype(np.int64))
    allt = torch.as_tensor(np.concatenate(tokens))
    n_pass = len(allt)
    batches = [allt[i : i + args.batch_size] for i in range(0, n_pass, args.batch_size)]
    model.net.eval()
    bare, bare_cpu = timed(partial(bare_passes, model.net, batches))
    del allt, batches, tokens
    ism_s, ism_cpu = timed(lambda: model.explain(records, method="ism", target=0, batch_size=args.batch_size))

    m = min(args.n, 200 if args.gradient != "deepliftshap" else 50)
    grad_s, _ = timed(lambda: model.explain(records[:m], method=args.gradient, target=0, batch_size=64,
                                            n_shuffles=20, steps=50))

    print(f"records {args.n} x {args.length} bp, cnn-lstm defaults, {args.threads} threads, batch {args.batch_size}")
    print(f"bare forward passes : {n_pass} seqs in {bare:.2f} s = {n_pass / bare:,.0f} seqs/s")
    print(f"ISM (explain)       : {n_pass} seqs in {ism_s:.2f} s = {n_pass / ism_s:,.0f} seqs/s "
          f"= {args.n / ism_s:.1f} records/s")
    print(f"ISM / bare throughput: {bare / ism_s:.3f}  (target >= 0.8)")
    print(f"ISM / bare, CPU time : {bare_cpu:.1f} / {ism_cpu:.1f} CPU s = {bare_cpu / ism_cpu:.3f}  "
          "(the same ratio from process CPU seconds: robust to other jobs on a shared machine)")
    print(f"{args.gradient:<20}: {m} records in {grad_s:.2f} s = {m / grad_s:.1f} records/s")


if __name__ == "__main__":
    main()
