"""DDP training: two gloo processes under torchrun train a tiny model; rank 0 writes a bundle."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys

import pytest

import bioseq
from bioseq.errors import ConfigError
from bioseq.training.distributed import in_torchrun

HP = {"conv_filters": [8], "conv_kernels": [5], "pool_sizes": [2], "rnn_hidden": 8, "head_hidden": 0}


def write_fasta(path, n=64, seed=0):
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for i in range(n):
            lab = "ab"[i % 2]
            seq = "".join(rng.choice("ACGT") for _ in range(30))
            fh.write(f">r{i} label={lab}\n{'GGGG' + seq[4:] if lab == 'b' else seq}\n")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ~12 s on an idle 2-core machine (three processes import torch), ~25 s under load:
# worth it, since it is the only test of real multi-process DDP.
def test_two_process_gloo_training_writes_one_bundle(tmp_path):
    train = write_fasta(tmp_path / "train.fa")
    valid = write_fasta(tmp_path / "valid.fa", 20, seed=1)
    out, log = tmp_path / "m.safetensors", tmp_path / "log.jsonl"
    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps(HP))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "bioseq",
        "train",
        "--distributed",
        str(train),
        "--valid",
        str(valid),
        "--arch",
        "cnn-lstm",
        "--hparams",
        str(hp),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--threads",
        "1",
        "--device",
        "cpu",
        "--log-file",
        str(log),
        "-o",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = bioseq.load(out)
    meta = model.metadata
    assert meta["training"]["world_size"] == 2
    assert [r["epoch"] for r in meta["history"]] == [1, 2]
    assert len(log.read_text().splitlines()) == 2  # rank 0 only
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hp.json",
        "log.jsonl",
        "m.ckpt",
        "m.safetensors",
        "train.fa",
        "valid.fa",
    ]
    assert model.predict(str(valid)).probs.shape == (20, 2)
    # every rank saw the same (reduced) metrics: rank 0's log says so once per epoch
    assert proc.stderr.count("epoch 1/2:") == 1


def test_distributed_needs_torchrun(monkeypatch, tmp_path):
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    assert not in_torchrun()
    with pytest.raises(ConfigError, match=r"torchrun --nproc_per_node=N -m bioseq train --distributed"):
        bioseq.train(str(write_fasta(tmp_path / "t.fa")), arch="cnn-lstm", hparams=HP, distributed=True)


def test_ddp_code_path_in_process(monkeypatch, tmp_path):
    """A one-process gloo group: DDP wrapping, all_reduce and all_gather run in-process (fast)."""
    import torch.distributed as dist

    for var, value in (
        ("RANK", "0"),
        ("WORLD_SIZE", "1"),
        ("LOCAL_RANK", "0"),
        ("MASTER_ADDR", "127.0.0.1"),
        ("MASTER_PORT", str(free_port())),
    ):
        monkeypatch.setenv(var, value)
    assert in_torchrun()
    out = tmp_path / "m.safetensors"
    m = bioseq.train(
        str(write_fasta(tmp_path / "t.fa")),
        arch="cnn-lstm",
        hparams=HP,
        epochs=2,
        batch_size=8,
        device="cpu",
        distributed=True,
        output=out,
        progress=False,
    )
    assert not dist.is_initialized()  # the group train() created is torn down
    assert m.metadata["training"]["world_size"] == 1
    assert bioseq.load(out).fingerprint == m.fingerprint
