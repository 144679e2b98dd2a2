"""Held-out accuracy of every architecture on the real datasets, next to peers and published figures.

Trains each architecture on each dataset's train split (validation split for
early stopping) within a wall-clock budget on this CPU (``--budget`` minutes per
run, 5 by default), predicts the untouched test split, and prints accuracy /
macro-F1 / MCC as mean +- standard deviation over several seeds (one seed is
noise, not progress), then each set's ``auto`` figure against the accuracy
issue's target. The published figures come from ../shared/data/README.md and
are NOT always on the same split: the ``note`` column says how far they compare.

Rows:

* ``kmer-linear``, ``cnn-lstm``, ``transformer``: ``bioseq.train(arch=...)``.
* ``auto``: ``bioseq train --arch auto --max-time 2B`` with B the per-run
  ``--budget``: kmer-linear, then the nets, then more seeds of each net while
  the budget lasts (:func:`bioseq.training.auto.train_candidates`), and the
  ensemble of their seed bags chosen on the validation split
  (:func:`~bioseq.training.auto.choose_from`), as ``train_auto`` does
  (without writing the bundle). Its first seeds of the nets are trained like
  the single rows (same seed, a similar share of the budget), so those rows
  show what one member reaches alone.
* ``auto-greedy``: the same candidates (no second training) with greedy
  weights over every seed: the rule that seed bags replaced, compared on the
  same members.
* ``dilated-cnn`` (not in the default list: not an auto candidate): the dilated residual CNN alone.
* ``auto-dilated`` (not in the default list): ``auto`` with the dilated CNN as a fourth
  candidate (``--candidates kmer-linear,cnn-lstm,transformer,dilated-cnn``) in the same
  ``2B`` minutes: whether the third trunk earns its share of the budget.
* ``auto-rc`` (not in the default list: it costs another ``auto``): the same
  with ``--test-time-rc`` (each DNA/RNA member reads both strands if that
  raises its validation score): what that lever adds.
* ``tfidf-pipeline``: a plain scikit-learn peer: character 1-6-grams (1-3 for
  proteins) through ``HashingVectorizer`` (2**20 columns),
  ``TfidfTransformer`` and ``LogisticRegression``, its C chosen like
  kmer-linear's (lowest validation log loss on kmer-linear's default grid, fitted
  on the training split, with the same class weights as the trainer:
  ``--class-weight``, balanced by default).
* ``gb-cnn``: the genomic-benchmarks package's own torch CNN
  (``pip install genomic-benchmarks``; it installs beside torch 2.13 CPU)
  trained as its example notebooks do: 10 epochs, batch 32, embedding 100; it reads at most
  the first 1,000 letters of a sequence (``GB_MAX_LETTERS``), which only DeepLoc exceeds.

kmer-linear and the pipeline are deterministic: they run once (seed 0) whatever
``--seeds``. Runs go seed-major (all sets at seed 0, then seed 1, ...); with
``--json`` every finished run is written at once and a rerun of the same command
resumes where it stopped. Bundles are kept with ``--workdir``.

    python bench/accuracy.py --workdir runs --json runs/accuracy.json      # everything, 3 seeds
    python bench/accuracy.py --datasets splice_uci --archs cnn-lstm --seeds 1
    # the single rows and peers from one run, auto from another, one table:
    python bench/accuracy.py --archs auto --json runs/auto.json --with-runs runs/accuracy.json
    python bench/accuracy.py --pretrained [bench/pretrained.py's options]   # pretrained vs scratch

The deeploc2_singlelabel set (7 MB) is not bundled; it is used when
../shared/data/deeploc2_singlelabel exists and ``--datasets`` names it.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/X.py` puts bench/ first on sys.path, where bench/tokenize.py
# would shadow the standard library's tokenize module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

# Published figures (test split of each dataset's README entry). Accuracy in [0, 1].
PUBLISHED: dict[str, list[tuple[str, dict[str, float], str]]] = {
    "ienhancer2l_enhancer": [
        ("iEnhancer-2L (2016)", {"accuracy": 0.730, "mcc": 0.460}, "same 400-seq test set"),
        ("iEnhancer-ECNN (CNN, 2019)", {"accuracy": 0.769}, "same test set"),
        ("iEnhancer-5Step (2019)", {"accuracy": 0.790, "mcc": 0.580}, "same test set"),
        ("iEnhancer-ELM (DNABERT ens.)", {"accuracy": 0.830, "mcc": 0.661}, "same test set"),
    ],
    "gb_nontata_promoters_testsplit": [
        ("GB PyTorch CNN baseline", {"accuracy": 0.846, "macro_f1": 0.837}, "27k train; rough ceiling"),
        ("GB TensorFlow CNN baseline", {"accuracy": 0.865, "macro_f1": 0.844}, "27k train; rough ceiling"),
        ("HyenaDNA", {"accuracy": 0.966}, "27k train; rough ceiling"),
    ],
    "splice_uci": [
        ("KBANN / BACKPROP (UCI)", {"accuracy": 0.93}, "~93-95% from per-class errors; 10-fold CV, not our split"),
    ],
    "ampscanner_v2_amp": [
        ("AMP Scanner vr.2 (CNN-LSTM)", {"accuracy": 0.9101}, "same test set"),
    ],
    "deeploc2_singlelabel": [
        ("DeepLoc 1.0 (other data)", {"accuracy": 0.78}, "context only: different dataset"),
    ],
}

# Test-accuracy targets of the accuracy issue: the mean of 3 seeds of `auto` must reach them.
TARGETS = {
    "splice_uci": 0.95,
    "ienhancer2l_enhancer": 0.79,
    "gb_nontata_promoters_testsplit": 0.87,
    "ampscanner_v2_amp": 0.915,
    "deeploc2_singlelabel": 0.55,
}

DNA_SETS = ["ienhancer2l_enhancer", "gb_nontata_promoters_testsplit", "splice_uci"]
DEFAULT_SETS = DNA_SETS + ["ampscanner_v2_amp"]
PIPELINE = "tfidf-pipeline"
GB_CNN = "gb-cnn"
AUTO = "auto"
AUTO_RC = "auto-rc"  # auto --test-time-rc: each DNA/RNA member may read both strands: what that lever adds
AUTO_GREEDY = "auto-greedy"  # auto's candidates, greedy weights over every seed: comes with every auto run
AUTO_DILATED = "auto-dilated"  # auto --candidates kmer-linear,cnn-lstm,transformer,dilated-cnn: the third trunk's worth
NETS = ["cnn-lstm", "transformer"]
ARCHS = ["kmer-linear", PIPELINE, GB_CNN, *NETS, AUTO]  # --archs auto-rc adds the strand lever
DILATED = "dilated-cnn"  # the third trunk: not an auto candidate, so not in the default list (--archs adds it)
ROW_ORDER = [*ARCHS, AUTO_GREEDY, AUTO_RC, DILATED, AUTO_DILATED]  # the table's rows per set
DETERMINISTIC = {"kmer-linear", PIPELINE}  # one seed is the whole story
GB_EPOCHS, GB_BATCH, GB_EMBEDDING = 10, 32, 100  # genomic-benchmarks' torch_cnn_experiments notebooks
# The peer CNN pads every sequence to the longest; DeepLoc's longest protein (34,350 aa) would make each
# epoch cost hours on 2 threads. It reads the first GB_MAX_LETTERS letters instead, as bioseq's nets see
# at most 1,000 tokens of a protein. The bundled sets (at most 251 letters) are not cut.
GB_MAX_LETTERS = 1000
PROTEIN_SETS = {"ampscanner_v2_amp", "deeploc2_singlelabel"}


def dataset_dir(name: str) -> Path:
    for base in (ROOT / "data", SHARED):
        if (base / name / "train.fa.gz").exists():
            return base / name
    raise SystemExit(f"dataset {name!r} not found under data/ or {SHARED}")


def score(model, test: Path) -> dict[str, float]:
    """Accuracy, macro-F1 and MCC of ``model`` on the labelled ``test`` file."""
    from bioseq.io.readers import iter_sequences

    truth = {item.id: item.labels[0] for item in iter_sequences(test)}
    preds = model.predict(test)
    return metrics([truth[i] for i in preds.ids], list(preds.predicted))


def metrics(y_true: list, y_pred: list) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "macro_f1": f1_score(y_true, y_pred, average="macro"),
        "mcc": matthews_corrcoef(y_true, y_pred),
        "n_test": len(y_true),
    }


def read_split(path: Path) -> tuple[list[str], list[str]]:
    from bioseq.io.readers import iter_sequences

    items = list(iter_sequences(path))
    return [i.seq for i in items], [i.labels[0] for i in items]


def run_pipeline(name: str, class_weight: str | None = "balanced") -> dict:
    """The scikit-learn TF-IDF reference: hashed char n-grams, TF-IDF, logistic regression,
    C = lowest validation log loss on kmer-linear's default grid, ascending, stopping once
    the loss rises (fitted on train only), as kmer-linear does."""
    import warnings

    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    from bioseq.models.kmer_linear import KmerLinearClassifier

    d = dataset_dir(name)
    (train, y_train), (valid, y_valid), (test, y_test) = (
        read_split(d / f"{s}.fa.gz") for s in ("train", "valid", "test")
    )
    t0 = time.perf_counter()
    top = 3 if name in PROTEIN_SETS else 6
    hasher = HashingVectorizer(analyzer="char", ngram_range=(1, top), lowercase=False, alternate_sign=False,
                               norm=None)
    tfidf = TfidfTransformer().fit(hasher.transform(train))
    x_train, x_valid = (tfidf.transform(hasher.transform(s)) for s in (train, valid))
    best = None
    for c in KmerLinearClassifier.default_hparams("protein" if top == 3 else "dna")["C_grid"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lr = LogisticRegression(C=c, max_iter=2000, class_weight=class_weight).fit(x_train, y_train)
        loss = log_loss(y_valid, lr.predict_proba(x_valid), labels=lr.classes_)
        if best is not None and loss >= best[0]:
            break  # the same early stop as kmer-linear's path
        best = (loss, c, lr)
    train_s = time.perf_counter() - t0
    result = metrics(list(y_test), list(best[2].predict(tfidf.transform(hasher.transform(test)))))
    result.update(dataset=name, arch=PIPELINE, seed=0, train_s=train_s, C=best[1])
    return result


def run_gb_cnn(name: str, seed: int, threads: int) -> dict:
    """The genomic-benchmarks package's own torch CNN (``genomic_benchmarks.models.torch.CNN``) as
    its example notebooks train it: letters with <bos>/<eos>, padded to the longest sequence,
    embedding 100, Adam, batch 32, 10 epochs, no validation use (no early stopping); sequences
    cut to their first :data:`GB_MAX_LETTERS` letters (which none of the bundled sets exceeds)."""
    import contextlib
    import io

    import torch
    from genomic_benchmarks.models.torch import CNN

    d = dataset_dir(name)
    (train, y_train), (test, y_test) = (read_split(d / f"{s}.fa.gz") for s in ("train", "test"))
    train, test = ([s[:GB_MAX_LETTERS] for s in seqs] for seqs in (train, test))
    letters = sorted({c for s in train for c in s})
    vocab = {t: i for i, t in enumerate(["<unk>", "<bos>", "<eos>", *letters, "<pad>"])}
    width = max(len(s) for s in train + test) + 2
    labels = sorted(set(y_train))

    def encode(seqs: list[str]) -> torch.Tensor:
        ids = [[vocab["<bos>"], *(vocab.get(c, 0) for c in s), vocab["<eos>"]] for s in seqs]
        return torch.tensor([x + [vocab["<pad>"]] * (width - len(x)) for x in ids], dtype=torch.long)

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    y = torch.tensor([[labels.index(v)] for v in y_train], dtype=torch.float32)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(encode(train), y), batch_size=GB_BATCH, shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    model = CNN(number_of_classes=len(labels), vocab_size=len(vocab), embedding_dim=GB_EMBEDDING,
                input_len=width, device="cpu")
    with contextlib.redirect_stdout(io.StringIO()):  # it prints every epoch
        model.fit(loader, epochs=GB_EPOCHS)
    train_s = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(x) for x in encode(test).split(512)])
    picked = out.argmax(1) if len(labels) > 2 else torch.round(out[:, 0]).long()
    result = metrics(list(y_test), [labels[i] for i in picked.tolist()])
    result.update(dataset=name, arch=GB_CNN, seed=seed, train_s=train_s)
    return result


def run_auto(
    name: str, seed: int, budget: float, threads: int, class_weight: str | None, variant: str = AUTO,
) -> list[dict]:
    """``bioseq train --arch auto --max-time 2B`` (B = ``budget`` minutes per net), scored on
    the test split. ``variant`` ``auto``: the default candidates, plus an ``auto-greedy`` row:
    the same candidates with greedy weights over every seed instead of between seed bags (the
    rule auto replaced); ``auto-rc``: with ``--test-time-rc``; ``auto-dilated``: the dilated CNN
    as a fourth candidate, in the same total budget. Each row lists the members (arch, seed,
    weight, strands); the first also every candidate's seed and seconds."""
    from bioseq.api import EnsembleModel
    from bioseq.training.auto import DEFAULT_CANDIDATES, choose_from, train_candidates
    from bioseq.training.config import TrainConfig

    d = dataset_dir(name)
    try_strands = variant == AUTO_RC
    candidates = (*DEFAULT_CANDIDATES, DILATED) if variant == AUTO_DILATED else None
    cfg = TrainConfig(arch="auto", seed=seed, max_time=2 * budget, threads=threads, class_weight=class_weight,
                      test_time_rc=try_strands, candidates=candidates)
    t0 = time.perf_counter()
    data, sel, cands = train_candidates(d / "train.fa.gz", d / "valid.fa.gz", cfg)
    train_s = time.perf_counter() - t0
    rules = {variant: True, AUTO_GREEDY: False} if variant == AUTO else {variant: True}  # row -> seed bags?
    seeds = {id(c.model): c.seed for c in cands}
    rows = []
    for arch, bags in rules.items():
        t1 = time.perf_counter()
        ensemble, _, _ = choose_from(cands, data, sel, try_strands=try_strands, bags=bags)
        result = score(EnsembleModel.wrap(ensemble), d / "test.fa.gz")
        result.update(
            dataset=name, arch=arch, seed=seed, train_s=train_s + time.perf_counter() - t1,
            members=[{"arch": m.arch, "seed": seeds[id(m)], "weight": w, "strands": m.strands}
                     for m, w in zip(ensemble.members, ensemble.weights, strict=True)],
        )
        rows.append(result)
    rows[0]["candidates"] = [{"arch": c.arch, "seed": c.seed, "seconds": round(c.seconds, 1)} for c in cands]
    return rows


def run_one(
    name: str, arch: str, seed: int, budget: float, threads: int, workdir: Path, class_weight: str | None
) -> dict:
    import bioseq

    if arch == PIPELINE:
        return run_pipeline(name, class_weight)
    if arch == GB_CNN:
        return run_gb_cnn(name, seed, threads)

    d = dataset_dir(name)
    t0 = time.perf_counter()
    model = bioseq.train(
        d / "train.fa.gz",
        d / "valid.fa.gz",
        arch=arch,
        seed=seed,
        max_time=budget,
        threads=threads,
        class_weight=class_weight,
        output=workdir / f"{name}-{arch}-{seed}.safetensors",
    )
    train_s = time.perf_counter() - t0
    result = score(model, d / "test.fa.gz")
    result.update(dataset=name, arch=arch, seed=seed, train_s=train_s)
    if arch == "kmer-linear":
        chosen = model.state_arrays()["C_selected"]
        result["C"] = float(chosen[0]) if chosen.size else None
    return result


def group_stats(group: list[dict], **keys: str) -> dict:
    """``keys`` plus the seed count and mean / standard deviation (``<metric>_sd``; 0 for one
    seed) of accuracy, macro-F1, MCC and training seconds over the runs of ``group``."""
    entry = {**keys, "seeds": len(group)}
    for metric in ("accuracy", "macro_f1", "mcc", "train_s"):
        values = [r[metric] for r in group]
        entry[metric] = statistics.fmean(values)
        entry[metric + "_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
    return entry


def summarise(rows: list[dict]) -> list[dict]:
    keys = sorted({(r["dataset"], r["arch"]) for r in rows}, key=lambda k: (k[0], ROW_ORDER.index(k[1])))
    return [
        group_stats([r for r in rows if r["dataset"] == dataset and r["arch"] == arch], dataset=dataset, arch=arch)
        for dataset, arch in keys
    ]


def print_table(summary: list[dict]) -> None:
    print(f"\n{'dataset':32} {'arch':14} {'accuracy':>15} {'macro-F1':>15} {'MCC':>15} {'train s':>8}")
    for s in summary:
        cells = [f"{s[m]:.3f} ± {s[m + '_sd']:.3f}" for m in ("accuracy", "macro_f1", "mcc")]
        print(f"{s['dataset']:32} {s['arch']:14} {cells[0]:>15} {cells[1]:>15} {cells[2]:>15} {s['train_s']:8.1f}")
    print("\nPublished figures (see ../shared/data/README.md; mind the note):")
    for dataset in dict.fromkeys(s["dataset"] for s in summary):
        for method, figures, note in PUBLISHED.get(dataset, []):
            shown = ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
            print(f"  {dataset:32} {method:30} {shown:32} ({note})")
    print("\nTargets (mean test accuracy of auto):")
    for s in summary:
        if s["arch"] == AUTO and s["dataset"] in TARGETS:
            t = TARGETS[s["dataset"]]
            verdict = "meets" if s["accuracy"] >= t else "MISSES"
            print(f"  {s['dataset']:32} auto {s['accuracy']:.3f} ({s['seeds']} seeds) {verdict} {t:.3f} "
                  f"by {s['accuracy'] - t:+.3f}")
    print("\nChecks (kmer-linear must beat the TF-IDF pipeline; neural nets must beat kmer-linear on DNA):")
    for dataset in dict.fromkeys(s["dataset"] for s in summary):
        by_arch = {s["arch"]: s for s in summary if s["dataset"] == dataset}
        base = by_arch.get("kmer-linear")
        if base and PIPELINE in by_arch:
            diff = base["accuracy"] - by_arch[PIPELINE]["accuracy"]
            verdict = "beats" if diff > 0 else "DOES NOT beat"
            print(f"  {dataset:32} {'kmer-linear':12} {verdict} the TF-IDF pipeline by {diff:+.3f} accuracy")
        for arch in ("cnn-lstm", "transformer"):
            if base and arch in by_arch:
                diff = by_arch[arch]["accuracy"] - base["accuracy"]
                verdict = "beats" if diff > 0 else "DOES NOT beat"
                print(f"  {dataset:32} {arch:12} {verdict} kmer-linear by {diff:+.3f} accuracy")


MARKDOWN_COLUMNS = [AUTO, AUTO_GREEDY, *NETS, DILATED, "kmer-linear", PIPELINE, GB_CNN]


def markdown_table(summary: list[dict], budgets: dict[str, float]) -> str:
    """The README's targets table: one row per set (its per-net budget in minutes from
    ``budgets``), test accuracy mean ± sd per architecture, the target and the published figures."""
    shown = {s["arch"] for s in summary}
    columns = [arch for arch in MARKDOWN_COLUMNS if arch in shown]  # no empty column
    head = ["set", "budget (min)", "target", *columns, "published"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for dataset in dict.fromkeys(s["dataset"] for s in summary):
        by_arch = {s["arch"]: s for s in summary if s["dataset"] == dataset}
        target = f"≥ {TARGETS[dataset]:.3f}" if dataset in TARGETS else ""
        cells = [dataset, f"{budgets.get(dataset, float('nan')):g}", target]
        for arch in columns:
            s = by_arch.get(arch)
            if s is None:
                cells.append("")
            elif arch in DETERMINISTIC:
                cells.append(f"{s['accuracy']:.3f}")
            else:
                cells.append(f"{s['accuracy']:.3f} ± {s['accuracy_sd']:.3f} (n={s['seeds']})")
        if AUTO in by_arch:
            cells[3] = f"**{cells[3]}**"
        pub = "; ".join(f"{m} {f['accuracy']:.3f}" for m, f, _ in PUBLISHED.get(dataset, []) if "accuracy" in f)
        lines.append("| " + " | ".join([*cells, pub]) + " |")
    return "\n".join(lines)


def load_budgets(paths: list[Path]) -> dict[str, float]:
    """Per-set ``budget_min`` of the runs in each JSON file (a set met in two files keeps the first)."""
    budgets: dict[str, float] = {}
    for path in paths:
        if path is not None and path.exists():
            record = json.loads(path.read_text())
            for r in record.get("runs", []):
                budgets.setdefault(r["dataset"], record.get("budget_min"))
    return budgets


def load_rows(path: Path | None) -> list[dict]:
    """Rows already measured in ``path`` (a previous, interrupted run of the same command), so a
    long run can be resumed where it stopped: each finished run is written as it finishes."""
    if path is None or not path.exists():
        return []
    return json.loads(path.read_text()).get("runs", [])


def save_rows(path: Path | None, rows: list[dict], budget: float, class_weight: str | None) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"runs": rows, "summary": summarise(rows), "budget_min": budget, "class_weight": class_weight}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


def planned_runs(datasets: list[str], archs: list[str], seeds: int) -> list[tuple[str, str, int]]:
    """Seed-major order: every dataset and architecture at seed 0, then seed 1, ... so that an
    interrupted run still holds complete seeds."""
    runs = []
    for seed in range(seeds):
        for name in datasets:
            for arch in archs:
                if arch in DETERMINISTIC and seed > 0:
                    continue  # one seed is the whole story
                runs.append((name, arch, seed))
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_SETS)
    parser.add_argument("--archs", nargs="+", default=ARCHS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=5.0, help="training budget per run, minutes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write every run here as it finishes, and resume from it")
    parser.add_argument("--workdir", type=Path, help="keep the trained bundles here (default: a temporary folder)")
    parser.add_argument("--with-runs", type=Path, nargs="*", default=[],
                        help="read-only JSON files of runs made by another invocation (e.g. the single rows "
                             "and peers, while this one runs auto): shown in the table, never rewritten")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the README's targets table (markdown) of every run shown")
    parser.add_argument("--class-weight", default="balanced", choices=["balanced", "none"],
                        help="class weights of every model, the pipeline included (default: the trainer's)")
    args = parser.parse_args(argv)
    class_weight = None if args.class_weight == "none" else args.class_weight

    rows = load_rows(args.json)
    others = [r for path in args.with_runs for r in load_rows(path)]
    done = {(r["dataset"], r["arch"], r["seed"]) for r in rows + others}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for name, arch, seed in planned_runs(args.datasets, args.archs, args.seeds):
            if (name, arch, seed) in done:
                continue
            if arch in (AUTO, AUTO_RC, AUTO_DILATED):
                new = run_auto(name, seed, args.budget, args.threads, class_weight, variant=arch)
            else:
                new = [run_one(name, arch, seed, args.budget, args.threads, workdir, class_weight)]
            rows += new
            save_rows(args.json, rows, args.budget, class_weight)
            for r in new:
                chosen = f", C={r['C']:g}" if r.get("C") is not None else ""
                print(
                    f"{name} {r['arch']} seed={seed}: acc={r['accuracy']:.3f} f1={r['macro_f1']:.3f} "
                    f"mcc={r['mcc']:.3f} ({r['train_s']:.1f} s{chosen})",
                    flush=True,
                )
    print_table(summarise(rows + others))
    if args.markdown:
        budgets = {**{r["dataset"]: args.budget for r in rows}, **load_budgets(args.with_runs)}
        print("\n" + markdown_table(summarise(rows + others), budgets))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    if "--pretrained" in sys.argv[1:]:  # pretrained vs from scratch: bench/pretrained.py (its own options)
        import runpy

        sys.argv = [str(Path(__file__).with_name("pretrained.py"))] + [a for a in sys.argv[1:] if a != "--pretrained"]
        runpy.run_path(sys.argv[0], run_name="__main__")
    sys.exit(main())
