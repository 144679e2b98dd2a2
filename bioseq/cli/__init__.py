"""The ``bioseq`` command line.

Thin by design: each sub-command lives in its own module
(``bioseq/cli/<name>.py``) that defines ``add_parser(subparsers)`` and
``run(args) -> int`` and does nothing but parse arguments and call the package
API, so the Python API, the CLI and the Snakemake workflow cannot disagree.
Command modules import heavy libraries (torch) inside ``run`` only, keeping
``bioseq --help`` fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bioseq._version import __version__
from bioseq.errors import BioseqError
from bioseq.io.atomic import refuse_to_overwrite

# Module names under bioseq.cli, in the order they appear in --help.
COMMANDS = [
    "tokenize",
    "train",
    "predict",
    "evaluate",
    "compare",
    "embed",
    "cache",
    "fit_head",
    "shard",
    "gather",
    "info",
    "chrom_sizes",
    "scan",
    "variant_effect",
    "plot_track",
    "top_effects",
    "explain",
    "motifs",
    "workflow",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bioseq",
        description="Classify DNA, RNA and protein sequences with k-mer tokenizers and neural classifiers.",
    )
    parser.add_argument("--version", action="version", version=f"bioseq {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"bioseq.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bioseq.cli.{name}":
                continue  # command not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        refuse_to_overwrite(
            [getattr(args, name, None) for name in getattr(args, "writes", ())],
            [getattr(args, name, None) for name in getattr(args, "reads", ())],
        )
        return int(args.run(args) or 0)
    except BioseqError as exc:
        print(f"bioseq {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"bioseq {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `bioseq predict ... | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
