"""``bioseq cache``: merge, inspect and compact embedding caches."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "cache",
        help="merge, inspect, compact, verify or repair embedding caches",
        description="Maintain content-addressed embedding caches (see docs/EMBEDDINGS.md).",
    )
    sub = p.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    m = sub.add_parser(
        "merge",
        help="merge caches (e.g. one per parallel job) into OUT",
        description=(
            "Merge caches or 'bioseq embed -o' exports into OUT (created, or extended: its rows come "
            "first). Rows are deduplicated by content key, first input wins; one group per model; "
            "groups of one model that disagree on dim, dtype or tokenizer are refused. Atomic."
        ),
    )
    m.add_argument("output", metavar="OUT", help="the merged cache")
    m.add_argument("inputs", metavar="IN", nargs="+", help="caches or exports to merge, in order")
    m.add_argument("--compression", choices=["none", "lzf", "gzip"], default=None,
                   help="compression of OUT (default: OUT's if it exists, else the first input's)")
    i = sub.add_parser("info", help="print what a cache holds (JSON)")
    i.add_argument("cache", metavar="CACHE")
    c = sub.add_parser("compact", help="fold journal segments into the main file (optionally recompress)")
    c.add_argument("cache", metavar="CACHE")
    c.add_argument("--compression", choices=["none", "lzf", "gzip"], default=None,
                   help="rewrite with this compression")
    # Checked by bioseq.cli.main before run(): no output may be one of the inputs.
    v = sub.add_parser("verify", help="read every chunk against its checksum; exit 1 on damage (changes nothing)")
    v.add_argument("cache", metavar="CACHE")
    r = sub.add_parser(
        "repair",
        help="drop rows whose chunks fail their checksum; move unreadable files aside as NAME.damaged-N",
    )
    r.add_argument("cache", metavar="CACHE")
    p.set_defaults(run=run, reads=("inputs",), writes=("output",))
    return p


def run(args: argparse.Namespace) -> int:
    from bioseq.embed.cache import describe
    from bioseq.embed.cache_writer import compact, merge_caches

    if args.cache_command == "merge":
        counts = merge_caches(args.output, args.inputs, compression=args.compression)
        total = sum(counts.values())
        print(f"bioseq cache merge: {args.output}: {total} rows of {len(counts)} model(s)", file=sys.stderr)
    elif args.cache_command == "info":
        print(json.dumps(describe(args.cache), indent=2))
    elif args.cache_command in ("verify", "repair"):
        from bioseq.cli.embed import report_check
        from bioseq.embed.cache_writer import repair_cache, verify_cache

        check = (verify_cache if args.cache_command == "verify" else repair_cache)(args.cache)
        report_check(f"cache {args.cache_command}", args.cache, check)
        if check.unchecked_files:
            print(f"bioseq cache {args.cache_command}: written before checksums (values not verifiable until "
                  f"the next fold): {', '.join(sorted(set(check.unchecked_files)))}", file=sys.stderr)
        return 1 if args.cache_command == "verify" and not check.ok else 0
    else:
        changed = compact(args.cache, compression=args.compression)
        print(f"bioseq cache compact: {args.cache}: {'rewritten' if changed else 'nothing to fold'}",
              file=sys.stderr)
    return 0
