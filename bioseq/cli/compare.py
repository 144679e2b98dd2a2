"""``bioseq compare``: one table of the headline metrics of several evaluations (the workflow's summary)."""

from __future__ import annotations

import argparse


def _run(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=METRICS.json, got {text!r}")
    return name, path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "compare",
        help="one table comparing the metrics of several evaluations",
        description=(
            "Write a TSV table with one row per NAME=METRICS.json (from 'bioseq evaluate -o'): the name, "
            "the task, n and the headline metrics (accuracy, macro-F1, MCC, AUROC/AUPRC...; NA where a "
            "task lacks one). A name may hold '/'-separated parts, one per --name-columns column "
            "(e.g. splice/cnn/test with --name-columns dataset,model,input)."
        ),
    )
    p.add_argument("runs", nargs="+", type=_run, metavar="NAME=METRICS.json", help="the evaluations, in row order")
    p.add_argument("-o", "--output", required=True, metavar="TABLE.tsv", help="the table (written atomically)")
    p.add_argument("--name-columns", default="run", metavar="A,B,...",
                   help="column names of the parts of NAME (default: one column 'run')")
    p.set_defaults(run=run, writes=("output",))
    return p


def run(args: argparse.Namespace) -> int:
    from bioseq.evaluate.tables import write_comparison

    rows = write_comparison(args.runs, args.output, args.name_columns.split(","))
    print(f"bioseq compare: {rows} evaluations -> {args.output}")
    return 0
