"""``bioseq motifs``: the motifs a model learned, from the attributions of ``bioseq explain``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "motifs",
        help="motifs the model learned (TF-MoDISco on 'bioseq explain' attributions)",
        description=(
            "Call seqlets in the attributions of ATTRIBUTIONS.h5 and cluster them into motifs with TF-MoDISco "
            "(modisco-lite); write them in MEME minimal format, optionally draw logos and match them to a motif "
            "database with TomTom (memelite). Needs 'bioseq[explain]'. Nothing is downloaded."
        ),
    )
    p.add_argument("attributions", metavar="ATTRIBUTIONS.h5", help="an .h5 from 'bioseq explain'")
    p.add_argument("-o", "--output", required=True, metavar="MOTIFS.meme", help="motifs in MEME minimal format")
    p.add_argument("--logos", metavar="DIR", help="write <motif>.png and <motif>.svg logos here")
    p.add_argument("--db", metavar="FILE.meme", help="match the motifs to this MEME motif database (TomTom)")
    p.add_argument("--matches", metavar="MATCHES.tsv",
                   help="with --db: the table of matches (default: OUTPUT with .matches.tsv)")
    p.add_argument("--window", type=int, default=15,
                   help="seqlet core width (modisco sliding window; 21 suits 1 kb inputs)")
    p.add_argument("--flank", type=int, default=5, help="bases added on each side of a seqlet (10 suits 1 kb inputs)")
    p.add_argument("--min-seqlets", type=int, default=20, help="smallest seqlet group kept as a motif")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run, reads=("attributions", "db"), writes=("output", "matches"))
    return p


def run(args: argparse.Namespace) -> int:
    from bioseq.interpret.motifs import find_motifs, match_motifs, write_logos, write_matches, write_meme

    motifs = find_motifs(args.attributions, window=args.window, flank=args.flank,
                         min_seqlets=args.min_seqlets, seed=args.seed)
    write_meme(motifs, args.output)
    for m in motifs:
        print(f"bioseq motifs: {m.name}: {m.n_seqlets} seqlets, consensus {m.consensus}", file=sys.stderr)
    if args.logos:
        write_logos(motifs, args.logos)
    if args.db:
        matches = args.matches or str(Path(args.output).with_suffix(".matches.tsv"))
        write_matches(match_motifs(motifs, args.db), matches)
    print(f"bioseq motifs: {len(motifs)} motifs -> {args.output}", file=sys.stderr)
    return 0
