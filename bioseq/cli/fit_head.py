"""``bioseq fit-head``: a logistic-regression head on cached embeddings."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "fit-head",
        help="fit a logistic-regression head on cached embeddings",
        description=(
            "Fit scikit-learn's LogisticRegression (standardised features) on the embeddings in "
            "EMBEDDINGS (a cache or a 'bioseq embed -o' file) and save it without pickle "
            "(safetensors + JSON metadata, incl. the model fingerprint it belongs to). Use it with "
            "'bioseq predict MODEL INPUT --head HEAD'."
        ),
    )
    p.add_argument("embeddings", metavar="EMBEDDINGS", help="embedding cache or export (.h5)")
    p.add_argument("--labels", required=True, metavar="LABELS",
                   help="an id<TAB>label table (joined by id) or a labelled FASTA ('label=' in headers; "
                        "joined by sequence)")
    p.add_argument("-o", "--output", required=True, metavar="HEAD.safetensors", help="the head file")
    p.add_argument("--model-fingerprint", metavar="F",
                   help="which model's embeddings (default: the cache's only model)")
    p.add_argument("--C", type=float, default=1.0, dest="C", help="inverse regularisation strength")
    p.add_argument("--max-iter", type=int, default=1000, help="solver iterations")
    p.add_argument("--class-weight", choices=["balanced", "none"], default="balanced",
                   help="class weighting (default balanced)")
    # Checked by bioseq.cli.main before run(): no output may be one of the inputs.
    p.set_defaults(run=run, reads=("embeddings", "labels"), writes=("output",))
    return p


def run(args: argparse.Namespace) -> int:
    from bioseq.embed.head import fit_head

    head = fit_head(args.embeddings, args.labels, args.output, model_fingerprint=args.model_fingerprint,
                    C=args.C, max_iter=args.max_iter,
                    class_weight=None if args.class_weight == "none" else args.class_weight)
    print(f"bioseq fit-head: {args.output}: {len(head.labels)} classes, {head.metadata['n_train']} "
          f"embeddings, train accuracy {head.metadata['train_accuracy']:.3f}", file=sys.stderr)
    return 0
