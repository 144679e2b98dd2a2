"""``bioseq train``: train a classifier and write its model bundle (calls :func:`bioseq.train`)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from bioseq.errors import ConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train a classifier and write a model bundle",
        description=(
            "Train a sequence classifier on labelled sequences and write one self-describing "
            ".safetensors bundle. Alphabet, task (binary/multiclass/multilabel) and labels are inferred "
            "from the data; without --valid a stratified 10% of TRAIN is held out. Early stopping on "
            "validation MCC (macro-AUPRC for multilabel) keeps the best weights. Per-epoch metrics go to "
            "--log as JSON lines; a checkpoint beside the output (MODEL.ckpt) allows --resume."
        ),
    )
    p.add_argument("train", nargs="+", metavar="TRAIN", help="labelled sequence file(s) (FASTA/FASTQ/...)")
    p.add_argument("--valid", nargs="+", metavar="VALID", help="labelled validation file(s)")
    p.add_argument("--arch", required=True, metavar="NAME", help="architecture: cnn-lstm, transformer, kmer-linear")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.safetensors", help="model bundle to write")
    p.add_argument("--kmer", type=int, metavar="K", help="k-mer length (default: the architecture's)")
    p.add_argument("--stride", type=int, metavar="S", help="k-mer stride (default: the architecture's)")
    p.add_argument("--canonical", action="store_true", default=None, help="merge k-mers with their reverse complement")
    p.add_argument("--alphabet", choices=["dna", "rna", "protein"], help="default: inferred from the data")
    p.add_argument("--labels", metavar="L", help="label source: id/label TSV/CSV table, or 'filename'")
    p.add_argument("--epochs", type=int, default=50, metavar="N", help="maximum epochs (default 50)")
    p.add_argument("--max-time", type=float, metavar="MIN", help="wall-clock budget in minutes")
    p.add_argument(
        "--patience", type=int, default=10, metavar="N", help="early-stopping patience in epochs (0: off; default 10)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--batch-size", type=int, default=64, metavar="B", help="batch size (default 64)")
    p.add_argument(
        "--lr", type=float, metavar="LR", help="peak learning rate (default: the architecture's, 3e-3 for cnn-lstm)"
    )
    p.add_argument("--hparams", metavar="JSON", help="hyper-parameter overrides: a JSON object, or a .json/.yaml file")
    p.add_argument(
        "--metric",
        default="auto",
        help="early-stopping metric: auto (mcc; macro_auprc for multilabel), accuracy, macro_f1, auroc...",
    )
    p.add_argument(
        "--log",
        "--log-file",
        dest="log",
        metavar="LOG.jsonl",
        help="per-epoch metrics as JSON lines (under torchrun write --log-file: torchrun claims --log*)",
    )
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint beside the output")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: cuda if available")
    p.add_argument(
        "--rc-augment",
        dest="augment_rc",
        action="store_true",
        default=None,
        help="reverse-complement augmentation, for strand-symmetric DNA/RNA tasks (off by default: "
        "the strand is signal in oriented data such as splice sites and promoters)",
    )
    p.add_argument("--no-class-weight", action="store_true", help="no loss weights against class imbalance")
    p.add_argument(
        "--long-input",
        default="windows",
        choices=["windows", "center", "truncate"],
        help="prediction policy for inputs longer than max_tokens (default: windows, probabilities averaged)",
    )
    p.add_argument(
        "--distributed",
        action="store_true",
        help="DDP on every rank torchrun starts: torchrun --nproc_per_node=N -m bioseq train --distributed ... "
        "(give the epoch log as --log-file there)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    p.set_defaults(run=run)
    return p


def parse_hparams(value: str | None) -> dict[str, Any] | None:
    """``--hparams``: inline JSON, or a JSON/YAML file."""
    if value is None:
        return None
    text = value.strip()
    source = "--hparams"
    if not text.startswith("{"):
        path = Path(value)
        if not path.is_file():
            raise ConfigError(f"--hparams {value!r} is neither a JSON object nor an existing file")
        text, source = path.read_text(), str(path)
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            try:
                obj = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ConfigError(f"invalid YAML: {exc}", path=path) from None
            return _check_mapping(obj, source)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: invalid JSON ({exc})") from None
    return _check_mapping(obj, source)


def _check_mapping(obj: Any, source: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ConfigError(f"{source} must hold a JSON/YAML object (key: value), got {type(obj).__name__}")
    return obj


def setup_logging(quiet: bool) -> None:
    """bioseq's log messages (inferred settings, per-epoch metrics) on stderr."""
    logger = logging.getLogger("bioseq")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("bioseq: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.quiet)
    hparams = parse_hparams(args.hparams)
    from bioseq.training.api import train

    train(
        args.train[0] if len(args.train) == 1 else args.train,
        None if not args.valid else (args.valid[0] if len(args.valid) == 1 else args.valid),
        args.arch,
        alphabet=args.alphabet,
        k=args.kmer,
        stride=args.stride,
        canonical=args.canonical,
        labels=args.labels,
        hparams=hparams,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        max_time=args.max_time,
        seed=args.seed,
        patience=args.patience or None,
        output=args.output,
        log=args.log,
        resume=args.resume,
        threads=args.threads,
        device=args.device,
        augment_rc=args.augment_rc,
        class_weight=None if args.no_class_weight else "balanced",
        metric=args.metric,
        long_input=args.long_input,
        distributed=args.distributed,
    )
    return 0
