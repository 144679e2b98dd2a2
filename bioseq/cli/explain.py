"""``bioseq explain``: per-base attributions of every record toward a class."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

METHODS = ("ism", "saliency", "ig", "deepliftshap")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "explain",
        help="which bases drove each prediction (in-silico mutagenesis or gradients)",
        description=(
            "Attribute every record's prediction to its bases, toward the predicted class (or --target). "
            "OUT.tsv: one row per base (id, pos 0-based, base, score of the observed base); OUT.h5: each "
            "record's (L, alphabet) matrix, its sequence and id (input for 'bioseq motifs'). ism is exact "
            "(effects of all single-base substitutions); saliency/ig/deepliftshap need 'bioseq[explain]'."
        ),
    )
    p.add_argument("model", metavar="MODEL", help="model bundle (.safetensors)")
    p.add_argument("input", nargs="+", metavar="INPUT", help="sequence file(s)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.tsv|OUT.h5", help="file to write")
    p.add_argument("--method", choices=METHODS, default="ism", help="default: ism")
    p.add_argument("--target", metavar="CLASS", help="class to explain (default: each record's predicted class)")
    p.add_argument("--value", choices=("logit", "prob"), default="logit",
                   help="ism: effect on the target's logit (default) or probability")
    p.add_argument("--batch-size", type=int, default=256, metavar="N", help="sequences per forward pass")
    p.add_argument("--shuffles", type=int, default=20, metavar="N", help="deepliftshap: shuffled references")
    p.add_argument("--steps", type=int, default=50, metavar="N", help="ig: integration steps")
    p.add_argument("--seed", type=int, default=0, help="deepliftshap: seed of the shuffles")
    p.add_argument("--top", type=int, metavar="N",
                   help="explain only the N most confidently predicted records, shared evenly among the "
                        "predicted classes (each class in turn gives its most probable next record); "
                        "written in input order. Default: every record")
    p.add_argument("--plots", metavar="DIR",
                   help="with an .h5 output: draw <class>.png here, the attribution tracks of the most "
                        "confident records of each explained class (needs logomaker, 'bioseq[explain]')")
    p.add_argument("--plots-per-class", type=int, default=3, metavar="K", help="tracks per class (default 3)")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: cuda if available")
    p.set_defaults(run=run, reads=("model", "input"), writes=("output",))
    return p


def run(args: argparse.Namespace) -> int:
    from bioseq.bundle import load
    from bioseq.device import set_threads
    from bioseq.errors import ConfigError
    from bioseq.interpret.explain import explain_to_file, most_confident
    from bioseq.interpret.plots import plot_tracks

    if args.plots and Path(args.output).suffix.lower() not in (".h5", ".hdf5"):
        raise ConfigError(f"--plots draws from the attribution matrices: give an .h5 output, not {args.output!r}")
    if args.plots_per_class < 1:
        raise ConfigError(f"--plots-per-class must be positive, got {args.plots_per_class}")
    set_threads(args.threads)
    model = load(args.model, device=args.device)
    source = args.input[0] if len(args.input) == 1 else args.input
    if args.top is not None:
        source = most_confident(model, source, args.top, batch_size=args.batch_size)
    n = explain_to_file(
        model, source, args.output, method=args.method, target=args.target, batch_size=args.batch_size,
        value=args.value, n_shuffles=args.shuffles, steps=args.steps, seed=args.seed,
    )
    print(f"bioseq explain: {n} records ({args.method}) -> {args.output}", file=sys.stderr)
    if args.plots:
        files = plot_tracks(args.output, args.plots, per_class=args.plots_per_class)
        print(f"bioseq explain: attribution tracks of {len(files)} class(es) -> {args.plots}", file=sys.stderr)
    return 0
