"""``bioseq embed``: pooled embeddings into a content-addressed HDF5 cache and/or a file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bioseq.cli.genome_options import REGION_READS, add_region_arguments, region_source


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "embed",
        help="embeddings (the input of the head) into an HDF5 cache and/or file",
        description=(
            "Compute the pooled embedding of every record of INPUT with MODEL. With --cache, rows are "
            "keyed by sha256(model fingerprint, sequence): a rerun computes only sequences not yet in "
            "the cache, and a sequence repeated under several ids is computed once. The cache is "
            "crash-safe (a killed run keeps every complete row; rerun to finish); parallel jobs write one "
            "cache each and 'bioseq cache merge' them (writers of one cache take turns). -o writes a "
            "standalone HDF5 file of INPUT's embeddings in input order (datasets ids, keys, embeddings). "
            "Layout: docs/EMBEDDINGS.md."
        ),
    )
    p.add_argument("model", metavar="MODEL", help="model bundle (.safetensors), or a pretrained encoder given by "
                   "its local weights: esm:PATH.pt (fair-esm checkpoint) or hf:DIR (Hugging Face directory)")
    p.add_argument("input", metavar="INPUT", nargs="*", help="sequence file(s) (FASTA/FASTQ/GenBank/EMBL, "
                   "optionally .gz/.bz2) or '-' for stdin (or --regions)")
    p.add_argument("--cache", metavar="CACHE.h5", help="the embedding cache (created if absent)")
    p.add_argument("-o", "--output", metavar="OUT.h5", help="write INPUT's embeddings here, in input order")
    p.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                   help="storage dtype of a new cache group (an existing group must match); default float32")
    p.add_argument("--compression", choices=["none", "lzf", "gzip"], default=None,
                   help="HDF5 compression of the files written (default: keep the cache's; none when new)")
    p.add_argument("--batch-size", type=int, default=256, metavar="B", help="sequences per model call")
    p.add_argument("--allow-multiple-models", action="store_true",
                   help="allow adding this model's group to a cache that holds another model's embeddings")
    p.add_argument("--allow-empty", action="store_true",
                   help="an input without records writes a cache/export with zero rows instead of an error "
                   "(for a workflow's shards, which are empty when an input has fewer records than shards)")
    p.add_argument("--per-position", action="store_true",
                   help="write per-position embeddings of short inputs to -o (ragged HDF5: embeddings, offsets, "
                   "ids; not cached); cnn-lstm and transformer only")
    p.add_argument("--repair", action="store_true",
                   help="first check the cache against its checksums: drop damaged rows (computed again in this "
                   "run) and move unreadable files aside (default: damage is an error naming the file)")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where the model runs (default: cuda if available); the model is loaded only if some "
                   "record is not in the cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_region_arguments(p)
    # Checked by bioseq.cli.main before run(): no output may be one of the inputs.
    p.set_defaults(run=run, reads=("model", "input", *REGION_READS), writes=("output",))
    return p


def report_check(command: str, cache: str, check: Any) -> None:
    """One line on stderr about what a cache check or repair found."""
    what = "intact" if check.ok else f"{check.damaged_rows} damaged rows dropped"
    if check.damaged_files:
        what += f"; unreadable files moved aside: {', '.join(check.moved_aside or check.damaged_files)}"
    print(f"bioseq {command}: {cache}: {check.rows} rows {what}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    # No torch here: embed_to_file loads the model only when a row is not in the cache.
    from bioseq.embed.deferred import as_model
    from bioseq.embed.embed import embed_to_file
    from bioseq.errors import ConfigError

    if args.cache is None and args.output is None:
        raise ConfigError("nothing to write: give --cache CACHE.h5 and/or -o OUT.h5")
    regions = region_source(args, args.input)
    if args.repair and args.cache is not None:  # before anything reads the cache
        from bioseq.embed.cache_writer import repair_cache

        report_check("embed", args.cache, repair_cache(args.cache))
    model = as_model(args.model, cache=args.cache, device=args.device, threads=args.threads)
    inputs = args.input[0] if len(args.input) == 1 else args.input
    if regions is not None:
        inputs = regions.items()
    if args.per_position:
        from bioseq.embed.positions import write_positions

        if args.output is None or args.cache is not None:
            raise ConfigError("--per-position writes -o OUT.h5 only (per-position rows are not cached)")
        n = write_positions(getattr(model, "model", model), inputs, args.output, dtype=args.dtype,
                            allow_empty=args.allow_empty)
        print(f"bioseq embed: per-position embeddings of {n} records -> {args.output}", file=sys.stderr)
        return 0
    stats = embed_to_file(
        model, inputs, args.output, args.cache, batch_size=args.batch_size, dtype=args.dtype,
        compression=args.compression, allow_multiple_models=args.allow_multiple_models,
        progress=not args.no_progress and sys.stderr.isatty(), allow_empty=args.allow_empty,
    )
    print(f"bioseq embed: {stats.n_inputs} records: {stats.n_computed} computed, {stats.n_cached} from the "
          f"cache, {stats.n_duplicates} duplicate sequences"
          + ("" if stats.model_loaded else " (model not loaded)"), file=sys.stderr)
    return 0
