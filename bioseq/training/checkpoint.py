"""Resumable training checkpoints.

A checkpoint sits beside the model bundle (``model.safetensors`` ->
``model.ckpt``) and is rewritten atomically after every epoch. It holds the
model, optimizer and LR-scheduler states, the RNG states, the epoch counter,
the early-stopping state with the best weights so far, the epoch log, and the
run's configuration (to refuse resuming a different run).

It is written with ``torch.save`` but only ever read with
``torch.load(weights_only=True)``: tensors, dicts, lists, str/int/float only,
so a checkpoint cannot execute code when loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from bioseq.errors import ConfigError
from bioseq.io.atomic import atomic_path

CHECKPOINT_VERSION = 1


def checkpoint_path(output: str | os.PathLike[str]) -> Path:
    """Where the checkpoint for bundle ``output`` lives (same folder, ``.ckpt``)."""
    return Path(output).with_suffix(".ckpt")


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` (tensors and plain values only) atomically."""
    payload = {"bioseq_checkpoint": CHECKPOINT_VERSION, **state}
    with atomic_path(path, fsync=False) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike[str], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``.

    Args:
        config: the current run's configuration; when given it must equal the
            one stored, since resuming with other data or settings would mix
            two runs silently.

    Raises:
        ConfigError: unreadable file, unknown version, or configuration mismatch.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"cannot resume: unreadable checkpoint ({exc})", path=path) from exc
    if not isinstance(state, dict) or state.get("bioseq_checkpoint") != CHECKPOINT_VERSION:
        raise ConfigError("cannot resume: not a bioseq checkpoint of a known version", path=path)
    if config is not None:
        stored = state.get("config", {})
        diff = sorted(k for k in set(stored) | set(config) if stored.get(k) != config.get(k))
        if diff:
            raise ConfigError(
                f"cannot resume: the checkpoint was made with other settings or data ({', '.join(diff)}); "
                "delete it or train without --resume",
                path=path,
            )
    return state


def rng_state() -> dict[str, Any]:
    """The torch CPU (and CUDA, when present) RNG states as tensors."""
    out: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
