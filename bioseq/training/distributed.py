"""Distributed data-parallel (DDP) training under ``torchrun``.

Usage (two processes on one machine)::

    torchrun --nproc_per_node=2 -m bioseq train TRAIN --arch cnn-lstm --distributed -o model.safetensors

or, from Python, ``bioseq.train(..., distributed=True)`` in a script that
torchrun starts on every rank.

(torchrun's own parser claims options starting ``--log``: give the epoch log
as ``--log-file LOG.jsonl`` there.) ``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``; :func:`process_group` joins the group (``nccl`` on CUDA, one
GPU per local rank; ``gloo`` on CPU). Every rank reads and encodes the data
itself (deterministic), trains on a disjoint share of the batches
(:class:`~bioseq.data.batching.LengthBucketSampler` with rank/world size),
gradients are averaged by :class:`~torch.nn.parallel.DistributedDataParallel`,
the training loss is summed over ranks and validation pieces are scored in
shards and gathered, so every rank sees the same metrics and takes the same
early-stopping decision. Only rank 0 writes the log, checkpoints and bundle.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from bioseq.errors import ConfigError
from bioseq.training.loop import DistContext

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def in_torchrun() -> bool:
    """True when the torchrun (or torch.distributed launcher) environment is set."""
    return all(v in os.environ for v in TORCHRUN_VARS)


@contextlib.contextmanager
def process_group(device: str = "auto") -> Iterator[tuple[DistContext, str]]:
    """Join the process group described by the environment.

    Yields:
        ``(DistContext, device)`` where ``device`` is ``cuda:LOCAL_RANK`` on GPUs
        or ``cpu``. The group is destroyed on exit when this call created it.

    Raises:
        ConfigError: not launched by torchrun (no ``RANK``/``WORLD_SIZE``...).
    """
    import torch
    import torch.distributed as dist

    from bioseq.device import resolve_device

    if not dist.is_available():
        raise ConfigError("this torch build has no torch.distributed")
    created = False
    if not dist.is_initialized():
        if not in_torchrun():
            raise ConfigError(
                "--distributed needs the torchrun environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT); "
                "launch with: torchrun --nproc_per_node=N -m bioseq train --distributed ..."
            )
        dev = resolve_device(device)
        if dev.type == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            dev_name = f"cuda:{local}"
            backend = "nccl"
        else:
            dev_name, backend = "cpu", "gloo"
        dist.init_process_group(backend=backend)
        created = True
    else:
        dev_name = "cpu" if dist.get_backend() == "gloo" else f"cuda:{torch.cuda.current_device()}"
    logger = logging.getLogger("bioseq")
    level = logger.level
    if dist.get_rank() != 0:
        logger.setLevel(logging.WARNING)  # one copy of the info messages: rank 0's
    try:
        yield DistContext(rank=dist.get_rank(), world_size=dist.get_world_size()), dev_name
    finally:
        logger.setLevel(level)
        if created:
            dist.destroy_process_group()



@contextlib.contextmanager
def maybe_process_group(distributed: bool, device: str = "auto") -> Iterator[tuple[DistContext, str]]:
    """:func:`process_group` when ``distributed``, else ``(DistContext(), device)`` (one process)."""
    if not distributed:
        yield DistContext(), device
        return
    with process_group(device) as group:
        yield group
