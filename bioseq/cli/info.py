"""``bioseq info``: what a model bundle holds (architecture, labels, metrics, fingerprint)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "info",
        help="describe a model bundle",
        description="Print a model bundle's metadata: architecture, labels, task, tokenizer, validation "
        "metrics, training data fingerprint and the model fingerprint. Reads the header only.",
    )
    p.add_argument("model", metavar="MODEL", help="model bundle (.safetensors)")
    p.add_argument("--json", action="store_true", help="print the full metadata as JSON (history included)")
    p.set_defaults(run=run)
    return p


def summary(meta: dict[str, Any]) -> str:
    """Human-readable summary lines of bundle metadata."""
    tok = meta.get("tokenizer", {})
    data = meta.get("data_fingerprint") or {}
    lines = [
        f"arch:         {meta.get('arch')} ({meta.get('kind')})",
        f"task:         {meta.get('task')}",
        f"labels:       {', '.join(meta.get('labels', []))}",
        f"alphabet:     {meta.get('alphabet')}",
        f"tokenizer:    k={tok.get('k')} stride={tok.get('stride')} canonical={tok.get('canonical')} "
        f"vocab_size={tok.get('vocab_size')}",
        f"long input:   {json.dumps(meta.get('long_input'))}",
        f"hparams:      {json.dumps(meta.get('hparams'), sort_keys=True)}",
    ]
    if meta.get("thresholds") is not None:
        lines.append(f"thresholds:   {meta['thresholds']}")
    metrics = meta.get("metrics") or {}
    if metrics:
        sel = meta.get("selection_metric")
        shown = ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
        lines.append(
            f"validation:   {shown} (selected on {sel}, epoch {meta.get('best_epoch')}, stopped: {meta.get('stopped')})"
        )
    if data:
        lines.append(
            f"trained on:   {data.get('n_train')} records ({data.get('train_source')}), "
            f"validated on {data.get('n_valid')} ({data.get('valid_source')})"
        )
        lines.append(f"data sha256:  train {data.get('train')}  valid {data.get('valid')}")
    lines += [
        f"epochs run:   {len(meta.get('history') or [])}",
        f"fingerprint:  {meta.get('fingerprint')}",
        f"created:      {meta.get('created')} by bioseq {meta.get('bioseq_version')} "
        f"(format {meta.get('format')} v{meta.get('format_version')})",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from bioseq.bundle import read_metadata

    meta = read_metadata(args.model)
    if args.json:
        json.dump(meta, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(summary(meta))
    return 0
