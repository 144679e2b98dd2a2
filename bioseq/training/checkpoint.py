"""Resumable training checkpoints, in safetensors: nothing bioseq reads is ever unpickled.

A checkpoint sits beside the model bundle (``model.safetensors`` ->
``model.ckpt``) and is rewritten atomically after every epoch. It holds the
model, optimizer and LR-scheduler states, the RNG states, the epoch counter,
the early-stopping state with the best weights so far, the epoch log, and the
run's configuration (to refuse resuming a different run).

The state is a tree of dicts, lists, plain values and tensors. :func:`flatten`
moves every tensor into the safetensors body under its path in the tree
(``model/trunk.rnn.weight_ih_l0``, ``optimizer/state/3/exp_avg``) and leaves
JSON in the header with ``{"__tensor__": path}`` in its place; dicts whose keys
are not strings (the optimizer's parameter ids) are stored as
``{"__items__": [[key, value], ...]}``. Loading parses JSON and reads
tensors: no code can run, whatever the file holds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from bioseq.errors import ConfigError
from bioseq.io.atomic import atomic_path

CHECKPOINT_VERSION = 2  # 2: safetensors (1 was torch.save, no longer read)
_STATE_KEY = "bioseq_checkpoint"


def checkpoint_path(output: str | os.PathLike[str]) -> Path:
    """Where the checkpoint for bundle ``output`` lives (same folder, ``.ckpt``)."""
    return Path(output).with_suffix(".ckpt")


def flatten(obj: Any, tensors: dict[str, torch.Tensor], path: str = "") -> Any:
    """A JSON-able copy of ``obj`` whose tensors are moved into ``tensors`` by their path."""
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().cpu().contiguous()
        return {"__tensor__": path}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: flatten(v, tensors, f"{path}/{k}") for k, v in obj.items()}
        return {"__items__": [[k, flatten(v, tensors, f"{path}/{k}")] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [flatten(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"checkpoint state at {path or '/'} holds a {type(obj).__name__}, not a plain value or tensor")


def unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The inverse of :func:`flatten` (tuples come back as lists)."""
    if isinstance(obj, dict):
        if set(obj) == {"__tensor__"}:
            return tensors[obj["__tensor__"]]
        if set(obj) == {"__items__"}:
            return {k: unflatten(v, tensors) for k, v in obj["__items__"]}
        return {k: unflatten(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unflatten(v, tensors) for v in obj]
    return obj


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` (tensors and plain values only) atomically."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    tree = flatten({"version": CHECKPOINT_VERSION, **state}, tensors)
    with atomic_path(path, fsync=False) as tmp:
        save_file(tensors, str(tmp), metadata={_STATE_KEY: json.dumps(tree, allow_nan=True)})


def load_checkpoint(path: str | os.PathLike[str], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a checkpoint (JSON and tensors only: nothing is unpickled).

    Args:
        config: the current run's configuration; when given it must equal the
            one stored, since resuming with other data or settings would mix
            two runs silently.

    Raises:
        ConfigError: unreadable file, unknown version, or configuration mismatch.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            tree = json.loads((fh.metadata() or {})[_STATE_KEY])
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open has no iterator)
        state = unflatten(tree, tensors)
    except Exception as exc:  # safetensors' own errors, a missing key, bad JSON, a dangling tensor path
        raise ConfigError(f"cannot resume: not a readable bioseq checkpoint ({type(exc).__name__}: {exc})",
                          path=path) from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise ConfigError("cannot resume: not a bioseq checkpoint of a known version; delete it", path=path)
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
