"""``bioseq train``: train a classifier and write its model bundle (calls :func:`bioseq.train`)."""

from __future__ import annotations

import argparse

from bioseq.cli.genome_options import REGION_READS, add_region_arguments, region_source
from bioseq.errors import ConfigError
from bioseq.logs import log_to_stderr
from bioseq.training.config import DEFAULT_EPOCHS, DEFAULT_PATIENCE, LONG_INPUT_CHOICES, TrainConfig, load_hparams


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train a classifier and write a model bundle",
        description=(
            "Train a sequence classifier on labelled sequences and write one self-describing "
            ".safetensors bundle. Alphabet, task (binary/multiclass/multilabel) and labels are inferred "
            "from the data; without --valid a stratified 10% of TRAIN is held out. Early stopping on "
            "validation MCC (macro-AUPRC for multilabel) keeps the best weights. Per-epoch metrics go to "
            "--log as JSON lines; a checkpoint beside the output (MODEL.ckpt) allows --resume. "
            "--arch auto trains kmer-linear, cnn-lstm and transformer (or --candidates) within --max-time "
            "and keeps the best single member or a weighted ensemble of them, chosen on validation."
        ),
    )
    _add_data_arguments(p.add_argument_group("data and model"))
    _add_optimisation_arguments(p.add_argument_group("optimisation"))
    _add_run_arguments(p.add_argument_group("run"))
    add_region_arguments(p, labels=True)
    # Checked by bioseq.cli.main before run(): no output may be one of the inputs.
    p.set_defaults(
        run=run, reads=("train", "valid", "labels", "hparams", "init", *REGION_READS), writes=("output", "log")
    )
    return p


def _add_data_arguments(p: argparse._ArgumentGroup) -> None:
    p.add_argument("train", nargs="*", metavar="TRAIN", help="labelled sequence file(s) (FASTA/FASTQ/...), or "
                   "--regions with labels from a BED column")
    p.add_argument("--valid", nargs="+", metavar="VALID", help="labelled validation file(s)")
    p.add_argument(
        "--arch",
        metavar="NAME",
        help="architecture (required unless --init gives it): cnn-lstm, transformer, dilated-cnn, kmer-linear (or an "
        "installed plugin's), or auto: train "
        "the --candidates within --max-time (kmer-linear first, the rest shared by the nets) and keep the "
        "best single member or a weighted ensemble (weights chosen on validation; never worse there than "
        "its best member)",
    )
    p.add_argument(
        "--candidates",
        metavar="A,B,...",
        help="--arch auto only: comma-separated architectures to try (default kmer-linear,cnn-lstm,transformer)",
    )
    p.add_argument(
        "--seeds-per-net",
        type=int,
        metavar="N",
        help="--arch auto only: seeds each net trains, all offered to the ensemble (default: as many as "
        "--max-time allows, up to 5; 1 without --max-time)",
    )
    p.add_argument("-o", "--output", required=True, metavar="MODEL.safetensors", help="model bundle to write")
    p.add_argument(
        "--init",
        metavar="ENCODER.safetensors",
        help="fine-tune from a pretrained encoder (bioseq pretrain): its trunk, tokenizer and architecture, a new "
        "head; with --arch auto it adds the candidate 'pretrained'",
    )
    frozen = p.add_mutually_exclusive_group()
    frozen.add_argument("--freeze-encoder", action="store_true", help="--init: keep the pretrained trunk fixed")
    frozen.add_argument("--unfreeze-after", type=int, metavar="N",
                        help="--init: keep the pretrained trunk fixed for N epochs, then train it too")
    p.add_argument("--kmer", type=int, metavar="K", help="k-mer length (default: the architecture's)")
    p.add_argument("--stride", type=int, metavar="S", help="k-mer stride (default: the architecture's)")
    p.add_argument("--canonical", action="store_true", default=None, help="merge k-mers with their reverse complement")
    p.add_argument("--alphabet", choices=["dna", "rna", "protein"], help="default: inferred from the data")
    p.add_argument("--labels", metavar="L", help="label source: id/label TSV/CSV table, or 'filename'")
    p.add_argument(
        "--hparams",
        metavar="JSON",
        help="hyper-parameter overrides: a JSON object, or a .json/.yaml file; with --arch auto one object "
        "per candidate: '{\"transformer\": {\"d_model\": 64}}'",
    )
    p.add_argument(
        "--encoder",
        metavar="SPEC",
        help="--arch esm-head only: the frozen encoder's local weights, esm:/path/to/esm2.pt or hf:/path/to/dir "
        "(the same as --hparams '{\"encoder\": SPEC}')",
    )
    p.add_argument(
        "--long-input",
        default="windows",
        choices=LONG_INPUT_CHOICES,
        help="prediction policy for inputs longer than max_tokens (default: windows, probabilities averaged)",
    )


def _add_optimisation_arguments(p: argparse._ArgumentGroup) -> None:
    p.add_argument(
        "--epochs", type=int, default=DEFAULT_EPOCHS, metavar="N", help=f"maximum epochs (default {DEFAULT_EPOCHS})"
    )
    p.add_argument("--max-time", type=float, metavar="MIN", help="wall-clock budget in minutes")
    p.add_argument(
        "--patience",
        type=int,
        default=DEFAULT_PATIENCE,
        metavar="N",
        help=f"early-stopping patience in epochs (0: off; default {DEFAULT_PATIENCE})",
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--batch-size", type=int, default=64, metavar="B", help="batch size (default 64)")
    p.add_argument(
        "--lr", type=float, metavar="LR", help="peak learning rate (default: the architecture's, 3e-3 for cnn-lstm)"
    )
    p.add_argument(
        "--label-smoothing", type=float, default=0.0, metavar="S",
        help="spread this share of each target over all classes (torch nets; default 0: off)",
    )
    p.add_argument(
        "--metric",
        default="auto",
        help="early-stopping metric: auto (mcc; macro_auprc for multilabel), accuracy, macro_f1, auroc...",
    )
    p.add_argument(
        "--rc-augment",
        dest="augment_rc",
        action="store_true",
        default=None,
        help="reverse-complement augmentation, for strand-symmetric DNA/RNA tasks (off by default: "
        "the strand is signal in oriented data such as splice sites and promoters)",
    )
    p.add_argument(
        "--test-time-rc",
        action="store_true",
        help="predict by averaging each sequence with its reverse complement (stored in the bundle), for "
        "DNA/RNA tasks where the strand carries no signal (off by default; with --arch auto each member "
        "takes it only if it raises the member's validation score)",
    )
    p.add_argument("--no-class-weight", action="store_true", help="no loss weights against class imbalance")


def _add_run_arguments(p: argparse._ArgumentGroup) -> None:
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
        "--distributed",
        action="store_true",
        help="DDP on every rank torchrun starts: torchrun --nproc_per_node=N -m bioseq train --distributed ... "
        "(give the epoch log as --log-file there)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="log warnings only")


def _with_encoder(hparams: dict | None, encoder: str | None, arch: str | None) -> dict | None:
    """``hparams`` with ``--encoder`` as its ``encoder`` entry (esm-head only; a different
    ``encoder`` in ``--hparams`` is a conflict, not silently overridden)."""
    if encoder is None:
        return hparams
    if arch != "esm-head":
        raise ConfigError(f"--encoder is the frozen encoder of --arch esm-head, not of --arch {arch}")
    hparams = dict(hparams or {})
    if hparams.get("encoder", encoder) != encoder:
        raise ConfigError(f"--encoder {encoder!r} and --hparams encoder {hparams['encoder']!r} disagree: give one")
    hparams["encoder"] = encoder
    return hparams


def run(args: argparse.Namespace) -> int:
    from bioseq.errors import ConfigError
    from bioseq.training.api import train

    log_to_stderr(quiet=args.quiet)
    if args.arch is None and args.init is None:
        raise ConfigError("give --arch NAME (cnn-lstm, transformer, dilated-cnn, kmer-linear, auto), or --init ENCODER")
    regions = region_source(args, args.train)
    config = TrainConfig(
        arch=args.arch,
        candidates=args.candidates,
        seeds_per_net=args.seeds_per_net,
        init=args.init,
        freeze_encoder=args.freeze_encoder,
        unfreeze_after=args.unfreeze_after,
        alphabet=args.alphabet,
        k=args.kmer,
        stride=args.stride,
        canonical=args.canonical,
        labels=args.labels,
        hparams=_with_encoder(load_hparams(args.hparams), args.encoder, args.arch),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        label_smoothing=args.label_smoothing,
        max_time=args.max_time,
        seed=args.seed,
        patience=args.patience or None,
        output=args.output,
        log=args.log,
        resume=args.resume,
        threads=args.threads,
        device=args.device,
        augment_rc=bool(args.augment_rc),
        test_time_rc=args.test_time_rc,
        class_weight=None if args.no_class_weight else "balanced",
        metric=args.metric,
        long_input=args.long_input,
        distributed=args.distributed,
    )
    train(
        regions.training_items() if regions is not None else args.train[0] if len(args.train) == 1 else args.train,
        None if not args.valid else (args.valid[0] if len(args.valid) == 1 else args.valid),
        config=config,
    )
    return 0
