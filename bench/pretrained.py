"""Does masked-token pretraining help at this scale? Test accuracy fine-tuned from a pretrained
encoder against the same architecture trained from scratch, on the same splits, in the same run.

For each target set (default: ienhancer2l_enhancer and ampscanner_v2_amp):

1. the unlabelled corpus is the train and valid splits of every bundled set of the same
   alphabet (data/*/{train,valid}.fa.gz, labels ignored; test splits are never read), so the
   target's own training sequences are in it, without labels;
2. ``bioseq.pretrain`` trains the architecture's trunk on it within ``--pretrain-minutes``
   (once per alphabet, seed 0: the DNA sets share one encoder);
3. for each seed, ``bioseq.train`` on the target's train split (valid split for early stopping)
   within ``--budget`` minutes, once from scratch and once with ``init=`` the encoder;
4. both predict the untouched test split; accuracy / macro-F1 / MCC as mean +- sd over seeds.

    python bench/pretrained.py                                  # the issue's setting: 20 min, 3 seeds
    python bench/pretrained.py --datasets ienhancer2l_enhancer --pretrain-minutes 4 --budget 2 --seeds 1
    python bench/accuracy.py --pretrained ...                   # the same, through accuracy.py

The issue's protocol: 20 minutes of pretraining on 2 threads, the usual fine-tuning budget
(``bench/accuracy.py``'s, 5 minutes), 3 seeds. Timings on a shared machine are noisy: what
counts is the difference between the two rows, measured in the same run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/X.py` puts bench/ first on sys.path, where bench/tokenize.py
# would shadow the standard library's tokenize module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import importlib.util
import json
import math
import os
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SETS = ["ienhancer2l_enhancer", "ampscanner_v2_amp"]


def _accuracy_module():
    """bench/accuracy.py (dataset lookup, scoring, published figures), loaded by path."""
    spec = importlib.util.spec_from_file_location("bench_accuracy", Path(__file__).with_name("accuracy.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ACC = _accuracy_module()


def alphabet_of(name: str) -> str:
    return "protein" if name in ACC.PROTEIN_SETS else "dna"


def corpus_files(alphabet: str) -> list[Path]:
    """train+valid of every bundled set of ``alphabet`` (never a test split)."""
    files = []
    for d in sorted((ROOT / "data").iterdir()):
        if d.is_dir() and (d / "train.fa.gz").exists() and alphabet_of(d.name) == alphabet:
            files += [d / "train.fa.gz", d / "valid.fa.gz"]
    assert files and not any("test" in f.name for f in files)
    return files


def pretrain_encoder(alphabet: str, arch: str, minutes: float, threads: int, workdir: Path) -> tuple[Path, dict]:
    import bioseq
    from bioseq.tokenize import N_SPECIAL

    files = corpus_files(alphabet)
    out = workdir / f"encoder-{alphabet}-{arch}.safetensors"
    t0 = time.perf_counter()
    enc = bioseq.pretrain([str(f) for f in files], arch=arch, alphabet=alphabet, max_time=minutes, epochs=1000,
                          threads=threads, seed=0, output=out, progress=False)
    hist = enc.metadata["history"]
    info = {
        "alphabet": alphabet, "arch": arch, "files": [str(f.relative_to(ROOT)) for f in files],
        "n_windows": enc.metadata["n_windows"], "epochs": len(hist), "seconds": time.perf_counter() - t0,
        "first_valid_loss": hist[0]["valid_loss"], "best_valid_loss": min(h["valid_loss"] for h in hist),
        "best_masked_accuracy": enc.metadata["metrics"].get("masked_accuracy"), "stopped": enc.metadata["stopped"],
        "uniform_loss": math.log(enc.tokenizer.vocab_size - N_SPECIAL),  # guessing any k-mer id
    }
    print(f"pretrained {arch} on {alphabet}: {info['n_windows']} windows, {info['epochs']} epochs in "
          f"{info['seconds']:.0f} s; held-out masked loss {info['first_valid_loss']:.3f} (epoch 1) -> "
          f"{info['best_valid_loss']:.3f} (uniform guess {info['uniform_loss']:.3f}), accuracy "
          f"{info['best_masked_accuracy']:.3f}", flush=True)
    return out, info


def fine_tune(name: str, arch: str, init: Path | None, seed: int, budget: float, threads: int) -> dict:
    import bioseq

    d = ACC.dataset_dir(name)
    t0 = time.perf_counter()
    kw = {"init": init} if init is not None else {"arch": arch}
    model = bioseq.train(d / "train.fa.gz", d / "valid.fa.gz", seed=seed, max_time=budget, threads=threads,
                         progress=False, **kw)
    result = ACC.score(model, d / "test.fa.gz")
    mode = f"{arch}+pretrained" if init is not None else f"{arch} scratch"
    result.update(dataset=name, mode=mode, seed=seed, train_s=time.perf_counter() - t0,
                  epochs=len(model.metadata["history"]))
    print(f"{name} {mode} seed={seed}: acc={result['accuracy']:.3f} f1={result['macro_f1']:.3f} "
          f"mcc={result['mcc']:.3f} ({result['train_s']:.0f} s, {result['epochs']} epochs)", flush=True)
    return result


def summarise(rows: list[dict]) -> list[dict]:
    return [
        ACC.group_stats([r for r in rows if r["dataset"] == dataset and r["mode"] == mode], dataset=dataset, mode=mode)
        for dataset, mode in dict.fromkeys((r["dataset"], r["mode"]) for r in rows)
    ]


def print_table(summary: list[dict]) -> None:
    print(f"\n{'dataset':24} {'mode':24} {'seeds':>5} {'accuracy':>15} {'macro-F1':>15} {'MCC':>15}")
    for s in summary:
        cells = [f"{s[m]:.3f} ± {s[m + '_sd']:.3f}" for m in ("accuracy", "macro_f1", "mcc")]
        print(f"{s['dataset']:24} {s['mode']:24} {s['seeds']:>5} {cells[0]:>15} {cells[1]:>15} {cells[2]:>15}")
    for dataset in dict.fromkeys(s["dataset"] for s in summary):
        rows = [s for s in summary if s["dataset"] == dataset]
        if len(rows) == 2:
            diff = rows[1]["accuracy"] - rows[0]["accuracy"]
            print(f"  {dataset}: pretrained minus scratch accuracy {diff:+.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_SETS)
    parser.add_argument("--arch", default="transformer", choices=["transformer", "cnn-lstm"])
    parser.add_argument("--pretrain-minutes", type=float, default=20.0, help="pretraining budget per alphabet")
    parser.add_argument("--budget", type=float, default=5.0,
                        help="fine-tuning / from-scratch budget per run, minutes (bench/accuracy.py's default)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write every run, the pretraining and the summary here")
    args = parser.parse_args(argv)

    rows, encoders = [], {}

    def save() -> None:  # after every run: an interrupted benchmark keeps what it measured
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            record = {"runs": rows, "summary": summarise(rows), "pretraining": [e[1] for e in encoders.values()],
                      "pretrain_minutes": args.pretrain_minutes, "budget_min": args.budget, "threads": args.threads}
            args.json.write_text(json.dumps(record, indent=1))

    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            alphabet = alphabet_of(name)
            if alphabet not in encoders:
                encoders[alphabet] = pretrain_encoder(alphabet, args.arch, args.pretrain_minutes, args.threads,
                                                      Path(tmp))
                save()
            for seed in range(args.seeds):
                for init in (None, encoders[alphabet][0]):
                    rows.append(fine_tune(name, args.arch, init, seed, args.budget, args.threads))
                    save()
    print_table(summarise(rows))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
