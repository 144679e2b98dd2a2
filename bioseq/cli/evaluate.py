"""``bioseq evaluate``: metrics (and plots) of a prediction table against labelled truth."""

from __future__ import annotations

import argparse
import json
import sys

from bioseq.errors import ConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "evaluate",
        help="metrics and plots of predictions against true labels",
        description=(
            "Join a prediction table (from 'bioseq predict') with true labels by record id and write "
            "accuracy, macro-F1, MCC, per-class precision/recall/F1, one-vs-rest AUROC/AUPRC and the "
            "confusion matrix as JSON. Ids on one side only, or a true label the model does not know, "
            "are errors that name the ids."
        ),
    )
    p.add_argument("predictions", metavar="PREDICTIONS", help="prediction table (TSV: id, predicted, prob_<label>...)")
    p.add_argument(
        "--truth",
        required=True,
        nargs="+",
        metavar="LABELLED_INPUT",
        help=(
            "labelled sequences (FASTA with 'label=' tokens, or with --labels), or a bare id/label table (.tsv/.csv)"
        ),
    )
    p.add_argument("-o", "--output", required=True, metavar="METRICS.json", help="metrics JSON (written atomically)")
    p.add_argument("--labels", metavar="L", help="label source for --truth: an id/label TSV/CSV table, or 'filename'")
    p.add_argument(
        "--task",
        default="auto",
        choices=["auto", "binary", "multiclass", "multilabel"],
        help="default: multilabel if any record has other than one label, else by label count",
    )
    p.add_argument(
        "--pos-label",
        metavar="LABEL",
        help="positive class of a binary task (default: the one not named non*/not*/0/negative)",
    )
    p.add_argument(
        "--plots",
        metavar="DIR",
        help="write confusion_matrix.png, roc.png, pr.png (+ learning_curves.png) here",
    )
    p.add_argument(
        "--history",
        metavar="TRAIN_LOG.jsonl",
        help="training log to plot learning curves from (needs --plots)",
    )
    p.add_argument("--svg", action="store_true", help="also write every plot as SVG")
    p.add_argument("--tsv", metavar="METRICS.tsv", help="also write a tidy metric/label/value table")
    p.add_argument("--markdown", metavar="METRICS.md", help="also write the metrics as Markdown tables")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="evaluate the ids present on both sides and record how many were dropped",
    )
    # Checked by bioseq.cli.main before run(): no output may be one of the inputs.
    p.set_defaults(run=run, reads=("predictions", "truth", "labels", "history"), writes=("output", "tsv", "markdown"))
    return p


def run(args: argparse.Namespace) -> int:
    if args.history and not args.plots:
        raise ConfigError("--history is plotted into the --plots directory: give --plots DIR too")
    from bioseq.evaluate.report import evaluate_data, load_eval_data
    from bioseq.evaluate.tables import metrics_table_markdown, summary_line, write_metrics_tsv
    from bioseq.io.atomic import atomic_open

    truth = args.truth[0] if len(args.truth) == 1 else args.truth
    data = load_eval_data(args.predictions, truth, args.labels, allow_missing=args.allow_missing)
    metrics = evaluate_data(data, args.task, pos_label=args.pos_label)
    if args.tsv:
        write_metrics_tsv(metrics, args.tsv)
    if args.markdown:
        with atomic_open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(metrics_table_markdown(metrics))
    if args.plots:
        from bioseq.evaluate.plots import plot_all

        formats = ("png", "svg") if args.svg else ("png",)
        plot_all(data, args.plots, metrics=metrics, history=args.history, formats=formats)
    # The metrics JSON last: its presence means every requested output was written.
    with atomic_open(args.output, "w", encoding="utf-8") as fh:
        json.dump(metrics, fh, indent=2, allow_nan=False)
        fh.write("\n")
    print(f"bioseq evaluate: {summary_line(metrics)} -> {args.output}", file=sys.stderr)
    for note in metrics["notes"]:
        print(f"bioseq evaluate: note: {note}", file=sys.stderr)
    return 0
