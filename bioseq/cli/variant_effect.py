"""``bioseq variant-effect``: reference vs alternative scores of the SNVs and short indels of a VCF."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "variant-effect",
        help="score reference and alternative windows around every SNV/short indel of a VCF",
        description=(
            "For every ALT of every VCF record (1-based POS), score a window of the model's length with the "
            "reference allele centred and one with the alternative allele centred. Columns: chrom, pos, id, "
            "ref, alt, then ref_<class>, alt_<class>, delta_<class> (alt - ref) and log2fc_<class> "
            "(log2((alt+1e-6)/(ref+1e-6))) for every class. A -o ending in .vcf or .vcf.gz writes the VCF "
            "back with BIOSEQ_* INFO fields instead. Symbolic and too-long alleles are skipped and counted. "
            "Needs the genomics extra."
        ),
    )
    p.add_argument("model", metavar="MODEL", help="model bundle (.safetensors)")
    p.add_argument("--vcf", required=True, metavar="VARIANTS.vcf[.gz]", help="variants (VCF/BCF, plain or bgzip)")
    p.add_argument("--genome", required=True, metavar="GENOME.fa", help="reference FASTA (plain or bgzip)")
    p.add_argument("-o", "--output", required=True, metavar="EFFECTS.tsv|.vcf[.gz]", help="table or VCF to write")
    p.add_argument("--window", type=int, metavar="W",
                   help="window length (default: the model's training length, the median of train_lengths in "
                   "'bioseq info'; a bundle without it needs --window)")
    p.add_argument("--chrom", action="append", metavar="NAME",
                   help="score the variants on this chromosome only (repeat for several), in file order")
    p.add_argument("--both-strands", action="store_true", default=None,
                   help="average both strands (default: on when the model is strand-symmetric: canonical "
                   "k-mers or trained with --rc-augment)")
    p.add_argument("--ref-mismatch", choices=["error", "skip", "warn"], default="error",
                   help="a REF unlike the genome: error (default, naming the variant), skip, or warn and skip")
    p.add_argument("--max-allele", type=int, default=50, metavar="L",
                   help="skip alleles longer than L letters (default 50)")
    p.add_argument("--batch-size", type=int, default=256, metavar="B", help="windows per forward pass")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: cuda if available")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (shown when stderr is a terminal)")
    # Checked by bioseq.cli.main before run(): no output may be one of the inputs.
    p.set_defaults(run=run, reads=("model", "vcf", "genome"), writes=("output",))
    return p


def run(args: argparse.Namespace) -> int:
    import contextlib

    from bioseq.bundle import load
    from bioseq.device import set_threads
    from bioseq.genomics.model_info import strand_symmetric
    from bioseq.genomics.variants import variant_effects_to_file
    from bioseq.logs import log_to_stderr
    from bioseq.predict import ProgressBar

    log_to_stderr()
    set_threads(args.threads)
    model = load(args.model, device=args.device)
    both = strand_symmetric(model) if args.both_strands is None else args.both_strands
    shown = not args.no_progress and sys.stderr.isatty()
    with contextlib.closing(ProgressBar(shown, desc="variant-effect", unit=" rec")) as bar:
        stats = variant_effects_to_file(
            model, args.vcf, args.genome, args.output, chroms=args.chrom, window=args.window, both_strands=both,
            ref_mismatch=args.ref_mismatch, max_allele=args.max_allele, batch_size=args.batch_size,
            progress=bar.records,
        )
    print(f"bioseq variant-effect: {stats.scored} alleles scored from {stats.records} records; skipped: "
          f"{stats.symbolic} symbolic, {stats.too_long} too long, {stats.ref_mismatch} REF mismatches "
          f"-> {args.output}", file=sys.stderr)
    return 0
