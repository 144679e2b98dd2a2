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
        "metrics, training data fingerprint and the model fingerprint (verified: the bundle is loaded).",
    )
    p.add_argument("model", metavar="MODEL", help="model bundle (.safetensors)")
    p.add_argument("--json", action="store_true", help="print the full metadata as JSON (history included)")
    p.set_defaults(run=run)
    return p


def summary(meta: dict[str, Any]) -> str:
    """Human-readable summary lines of bundle metadata."""
    if meta.get("kind") == "ensemble":
        return ensemble_summary(meta)
    if meta.get("kind") == "encoder":
        return encoder_summary(meta)
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
        f"strands:      {_strands(meta)}",
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
    return "\n".join(lines + _data_lines(data) + _length_lines(meta) + _footer(meta))


def _strands(meta: dict) -> str:
    """How a model reads the strands (``strands`` is absent from one-strand configurations)."""
    if meta.get("strands") == "both":
        return "both (each prediction averages the sequence and its reverse complement)"
    return "given (as read)"


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _data_lines(data: dict[str, Any]) -> list[str]:
    if not data:
        return []
    return [
        f"trained on:   {data.get('n_train')} records ({data.get('train_source')}), "
        f"validated on {data.get('n_valid')} ({data.get('valid_source')})",
        f"data sha256:  train {data.get('train')}  valid {data.get('valid')}",
    ]


def _length_lines(meta: dict[str, Any]) -> list[str]:
    """The training sequences' lengths (the default window of ``bioseq scan``); none in older bundles."""
    lengths = meta.get("train_lengths") or {}
    if not lengths:
        return []
    return [f"train length: min {lengths.get('min')}, median {lengths.get('median')}, max {lengths.get('max')} letters"]


def _footer(meta: dict[str, Any]) -> list[str]:
    return [
        f"epochs run:   {len(meta.get('history') or [])}",
        f"fingerprint:  {meta.get('fingerprint')} (verified)",
        f"created:      {meta.get('created')} by bioseq {meta.get('bioseq_version')} "
        f"(format {meta.get('format')} v{meta.get('format_version')})",
    ]


def ensemble_summary(meta: dict[str, Any]) -> str:
    """Summary of an ``--arch auto`` bundle: the kept members with their weights, and every
    candidate with its validation score (weight 0: trained but not kept)."""
    sel = meta.get("selection_metric")
    members = meta.get("members") or []
    weights = meta.get("weights") or []
    lines = [
        f"arch:         auto (ensemble of {len(members)} member{'s' if len(members) != 1 else ''})",
        f"task:         {meta.get('task')}",
        f"labels:       {', '.join(meta.get('labels', []))}",
        f"alphabet:     {meta.get('alphabet')}",
    ]
    metrics = meta.get("metrics") or {}
    if metrics:
        lines.append(f"validation:   {', '.join(f'{k}={_fmt(v)}' for k, v in metrics.items())} (selected on {sel})")
    lines.append(f"members:      {'#':>2}  {'arch':<14}{'seed':>11}{'weight':>8}  {'valid ' + str(sel):>14}  tokenizer")
    for i, (m, w) in enumerate(zip(members, weights, strict=False)):
        tok = m.get("tokenizer") or {}
        score = (m.get("metrics") or {}).get(sel)
        seed = (m.get("training") or {}).get("seed", "-")
        lines.append(
            f"              {i:>2}  {m.get('arch', '?'):<14}{_fmt(seed):>11}{w:>8.3f}  {_fmt(score):>14}  "
            f"k={tok.get('k')} stride={tok.get('stride')}; strands {_strands(m)}"
        )
    candidates = meta.get("candidates") or []
    if candidates:
        lines.append(f"candidates:   {'arch':<14}{'seed':>11}{'weight':>8}  {'valid ' + str(sel):>14}  seconds")
        lines += [
            f"              {c.get('arch', '?'):<14}{_fmt(c.get('seed', '-')):>11}"
            f"{float(c.get('weight') or 0.0):>8.3f}  {_fmt(c.get('selection_score')):>14}  {_fmt(c.get('seconds'))}"
            for c in candidates
        ]
    training = meta.get("training") or {}
    if training.get("max_time_min") is not None:
        lines.append(f"budget:       {training['max_time_min']} min; {training.get('budget_split')}")
    return "\n".join(lines + _data_lines(meta.get("data_fingerprint") or {}) + _length_lines(meta) + _footer(meta))


def encoder_summary(meta: dict[str, Any]) -> str:
    """Summary of a pretrained encoder (``bioseq pretrain``): trunk, objective, what it was pretrained on."""
    tok = meta.get("tokenizer", {})
    lines = [
        f"arch:         {meta.get('arch')} trunk (pretrained encoder; fine-tune with bioseq train --init)",
        f"objective:    {meta.get('objective')} {json.dumps(meta.get('masking'))}",
        f"alphabet:     {meta.get('alphabet')}",
        f"tokenizer:    k={tok.get('k')} stride={tok.get('stride')} canonical={tok.get('canonical')} "
        f"vocab_size={tok.get('vocab_size')}",
        f"hparams:      {json.dumps(meta.get('hparams'), sort_keys=True)}",
        f"validation:   {', '.join(f'{k}={_fmt(v)}' for k, v in (meta.get('metrics') or {}).items())} "
        f"(epoch {meta.get('best_epoch')}, stopped: {meta.get('stopped')})",
    ]
    for d in meta.get("pretrain_data") or []:
        lines.append(f"pretrained on: {d.get('source')}: {d.get('n_records')} records, {d.get('n_letters')} letters, "
                     f"{d.get('n_windows')} windows, sha256 {d.get('sha256')}")
    return "\n".join(lines + _footer(meta))


def run(args: argparse.Namespace) -> int:
    from bioseq.bundle import load, load_encoder, read_metadata

    # A full load, not only the header: the fingerprint, the schema and the weights against the
    # architecture are all checked, so info never describes a bundle that predict would refuse.
    encoder = read_metadata(args.model).get("kind") == "encoder"
    meta = (load_encoder if encoder else load)(args.model).metadata
    if args.json:
        json.dump(meta, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(summary(meta))
    return 0
