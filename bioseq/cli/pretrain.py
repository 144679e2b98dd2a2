"""``bioseq pretrain``: masked-token pretraining of an encoder on unlabelled sequences
(calls :func:`bioseq.training.pretrain.pretrain`)."""

from __future__ import annotations

import argparse

from bioseq.cli.genome_options import REGION_READS, add_region_arguments, region_source
from bioseq.logs import log_to_stderr
from bioseq.training.config import DEFAULT_PRETRAIN_EPOCHS, OBJECTIVES, PretrainConfig, load_hparams


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "pretrain",
        help="pretrain an encoder on unlabelled sequences (masked k-mer modelling)",
        description=(
            "Pretrain the trunk of a transformer or cnn-lstm on unlabelled sequences by masked-token "
            "modelling: about 15%% of each sequence's k-mer tokens, in spans long enough that overlapping "
            "k-mers cannot spell them out, are hidden and predicted. Inputs are read in chunks and cut into "
            "windows of max_tokens; labels are ignored. Writes an encoder bundle (.safetensors: tokenizer, "
            "architecture, hyper-parameters, fingerprints of the inputs) for `bioseq train --init`. A checkpoint "
            "beside the output (ENCODER.ckpt) allows --resume."
        ),
    )
    p.add_argument("inputs", nargs="*", metavar="UNLABELLED", help="sequence files (FASTA/FASTQ/..., - for stdin)")
    p.add_argument("-o", "--output", required=True, metavar="ENCODER.safetensors", help="encoder bundle to write")
    p.add_argument("--arch", default="transformer", metavar="NAME", help="trunk: transformer (default) or cnn-lstm")
    p.add_argument("--objective", default="mlm", choices=OBJECTIVES, help="mlm: masked k-mer spans (default)")
    p.add_argument("--mask-rate", type=float, default=0.15, metavar="F", help="share of tokens predicted (0.15)")
    p.add_argument("--kmer", type=int, metavar="K", help="k-mer length (default: the architecture's)")
    p.add_argument("--stride", type=int, metavar="S", help="k-mer stride (default: the architecture's)")
    p.add_argument("--canonical", action="store_true", default=None, help="merge k-mers with their reverse complement")
    p.add_argument("--alphabet", choices=["dna", "rna", "protein"], help="default: inferred from the first input")
    p.add_argument("--hparams", metavar="JSON", help="trunk hyper-parameter overrides: JSON object or .json/.yaml")
    p.add_argument("--epochs", type=int, default=DEFAULT_PRETRAIN_EPOCHS, metavar="N",
                   help=f"maximum epochs (default {DEFAULT_PRETRAIN_EPOCHS})")
    p.add_argument("--max-time", type=float, metavar="MIN", help="wall-clock budget in minutes")
    p.add_argument("--patience", type=int, default=3, metavar="N",
                   help="epochs without a lower held-out masked-token loss before stopping (0: off; default 3)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--batch-size", type=int, default=64, metavar="B", help="batch size (default 64)")
    p.add_argument("--lr", type=float, metavar="LR", help="peak learning rate (default: the architecture's)")
    p.add_argument("--rc-augment", dest="augment_rc", action="store_true", help="random strand per window (DNA/RNA)")
    p.add_argument("--log", "--log-file", dest="log", metavar="LOG.jsonl", help="per-epoch losses as JSON lines")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint beside the output")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: cuda if available")
    p.add_argument("--distributed", action="store_true",
                   help="DDP under torchrun: torchrun --nproc_per_node=N -m bioseq pretrain --distributed ...")
    p.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    add_region_arguments(p)
    p.set_defaults(run=run, reads=("inputs", "hparams", *REGION_READS), writes=("output", "log"))
    return p


def run(args: argparse.Namespace) -> int:
    from bioseq.training.pretrain import pretrain

    log_to_stderr(quiet=args.quiet)
    regions = region_source(args, args.inputs)
    config = PretrainConfig(
        arch=args.arch, objective=args.objective, alphabet=args.alphabet, k=args.kmer, stride=args.stride,
        canonical=args.canonical, hparams=load_hparams(args.hparams), mask_rate=args.mask_rate,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, max_time=args.max_time, seed=args.seed,
        patience=args.patience or None, output=args.output, log=args.log, resume=args.resume,
        threads=args.threads, device=args.device, augment_rc=args.augment_rc, distributed=args.distributed,
    )
    pretrain(regions.items() if regions is not None else args.inputs, config=config)
    return 0
