"""DDP training with two real gloo processes on CPU, through bioseq's own distributed entry points.

* ``bioseq.train(..., distributed=True)`` on two ranks started with torchrun's environment
  (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT): both ranks end with identical
  weights, and the run equals a single-process run whose one batch is the union of the two
  ranks' batches (so the gradients were combined across ranks, the training loss was reduced
  and the validation set was scored in shards and gathered correctly).
* the documented launch command, ``torchrun -m bioseq train --distributed``, writes one bundle.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import bioseq
from bioseq.errors import ConfigError
from bioseq.training.distributed import in_torchrun

torch.set_num_threads(1)

SRC = str(Path(bioseq.__file__).resolve().parents[1])  # this checkout, not another install of bioseq
HP = {"conv_filters": [8], "conv_kernels": [5], "pool_sizes": [2], "rnn_hidden": 8, "head_hidden": 0}
# No dropout: the reference run must draw no random numbers that the DDP ranks draw differently.
HP_NO_DROPOUT = {**HP, "conv_dropout": 0.0, "rnn_dropout": 0.0, "head_dropout": 0.0}


def write_fasta(path, n=64, seed=0):
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for i in range(n):
            lab = "ab"[i % 2]
            seq = "".join(rng.choice("ACGT") for _ in range(30))
            fh.write(f">r{i} label={lab}\n{'GGGG' + seq[4:] if lab == 'b' else seq}\n")
    return path


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: the bioseq under test first on its path, one thread."""
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# One DDP rank: train through the public API, then save what this rank ended with.
RANK_SCRIPT = """
import json, os, sys
import numpy as np
import bioseq

out_dir, kwargs = sys.argv[1], json.loads(sys.argv[2])
model = bioseq.train(**kwargs, distributed=True)
rank = os.environ["RANK"]
np.savez(os.path.join(out_dir, f"weights{rank}.npz"), **model.state_arrays())
with open(os.path.join(out_dir, f"history{rank}.json"), "w") as fh:
    json.dump(model.metadata["history"], fh)
"""


def start_ranks(world_size: int, out_dir, kwargs: dict, script: str = RANK_SCRIPT) -> list[subprocess.Popen]:
    """Start ``world_size`` processes running ``script`` with the environment torchrun would give them."""
    port = str(free_port())
    procs = []
    for rank in range(world_size):
        env = child_env(
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE=str(world_size),
            LOCAL_WORLD_SIZE=str(world_size),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
        )
        cmd = [sys.executable, "-c", script, str(out_dir), json.dumps(kwargs)]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def wait_ranks(procs: list[subprocess.Popen], timeout: float = 180) -> None:
    try:
        results = [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for rank, (p, (_, err)) in enumerate(zip(procs, results, strict=True)):
        assert p.returncode == 0, f"rank {rank} failed:\n{err[-3000:]}"


# ~7 s on an idle 2-core machine: two processes import torch and train 3 one-step epochs.
def test_two_ranks_train_like_one_process_on_the_union_of_their_batches(tmp_path):
    # 32 equal-length records, batch size 16 per rank: every epoch each rank takes one batch of 16,
    # and the two batches are the whole training set. With the gradients averaged across ranks,
    # each step equals one single-process step on a batch of 32 (no dropout, no class weights,
    # no strand augmentation: nothing else differs between the two runs).
    train = write_fasta(tmp_path / "train.fa", 32)
    valid = write_fasta(tmp_path / "valid.fa", 21, seed=1)  # odd: the ranks score unequal shares
    common = {
        "train": str(train),
        "valid": str(valid),
        "arch": "cnn-lstm",
        "hparams": HP_NO_DROPOUT,
        "epochs": 3,
        "lr": 0.01,
        "patience": None,
        "class_weight": None,
        "seed": 5,
        "threads": 1,
        "device": "cpu",
        "progress": False,
    }
    procs = start_ranks(2, tmp_path, {**common, "batch_size": 16, "output": str(tmp_path / "ddp.safetensors")})
    reference = bioseq.train(**common, batch_size=32)  # runs while the ranks start
    wait_ranks(procs)

    w0, w1 = (dict(np.load(tmp_path / f"weights{r}.npz")) for r in (0, 1))
    assert w0.keys() == w1.keys() == reference.state_arrays().keys()
    # (a) gradients are synchronised: both ranks hold the same weights after 3 steps on different data
    assert all(np.array_equal(w0[k], w1[k]) for k in w0)
    # (b) ... and they are the weights of full-batch training: the ranks' gradients were combined
    ref = reference.state_arrays()
    for k in ref:
        np.testing.assert_allclose(w0[k], ref[k], rtol=1e-4, atol=1e-5, err_msg=k)

    # every rank saw the same reduced training loss and the same gathered validation metrics,
    # equal to the single-process numbers on the whole validation set
    h0, h1 = (json.loads((tmp_path / f"history{r}.json").read_text()) for r in (0, 1))
    href = reference.metadata["history"]
    assert [r["epoch"] for r in h0] == [r["epoch"] for r in h1] == [r["epoch"] for r in href] == [1, 2, 3]
    for key in ("train_loss", "valid_loss", "valid_accuracy", "valid_mcc", "valid_auroc"):
        assert [r[key] for r in h0] == [r[key] for r in h1], key
        assert [r[key] for r in h0] == pytest.approx([r[key] for r in href], rel=1e-4, abs=1e-6), key

    # rank 0 wrote the bundle: its weights (the best epoch's) score the whole validation file,
    # in one process, exactly as the gathered validation of that epoch said
    bundle = bioseq.load(tmp_path / "ddp.safetensors")
    assert bundle.metadata["training"]["world_size"] == 2
    assert bundle.metadata["best_epoch"] == reference.metadata["best_epoch"]
    (best,) = [r for r in h0 if r["epoch"] == bundle.metadata["best_epoch"]]
    probs = bundle.predict(str(valid)).probs.astype(np.float64)
    y = np.arange(21) % 2  # r{i} has label "ab"[i % 2]
    ce = float(-np.log(np.clip(probs[np.arange(21), y], 1e-7, 1 - 1e-7)).mean())
    assert ce == pytest.approx(best["valid_loss"], rel=1e-5)


# ~6 s on an idle 2-core machine (three processes import torch): the documented launch command.
def test_torchrun_launch_command_writes_one_bundle_and_one_log(tmp_path):
    train = write_fasta(tmp_path / "train.fa")
    valid = write_fasta(tmp_path / "valid.fa", 20, seed=1)
    out, log = tmp_path / "m.safetensors", tmp_path / "log.jsonl"
    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps(HP))
    # README: torchrun --nproc_per_node=2 -m bioseq train --distributed TRAIN ... (python -m torch.distributed.run
    # is torchrun, without relying on the script being on PATH)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "bioseq"]
    cmd += ["train", "--distributed", str(train), "--valid", str(valid), "--arch", "cnn-lstm", "--hparams", str(hp)]
    cmd += ["--epochs", "2", "--batch-size", "8", "--threads", "1", "--device", "cpu", "--log-file", str(log)]
    cmd += ["-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=child_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = bioseq.load(out)
    assert model.metadata["training"]["world_size"] == 2
    assert [r["epoch"] for r in model.metadata["history"]] == [1, 2]
    assert [json.loads(x)["epoch"] for x in log.read_text().splitlines()] == [1, 2]  # rank 0 only
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hp.json",
        "log.jsonl",
        "m.ckpt",
        "m.safetensors",
        "train.fa",
        "valid.fa",
    ]
    assert model.predict(str(valid)).probs.shape == (20, 2)
    # only rank 0 logs the epochs (rank 1's info messages are silenced)
    assert proc.stderr.count("epoch 1/2:") == 1


def test_distributed_without_torchrun_environment_names_the_launch_command(monkeypatch, tmp_path):
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    assert not in_torchrun()
    with pytest.raises(ConfigError, match=r"torchrun --nproc_per_node=N -m bioseq train --distributed"):
        bioseq.train(str(write_fasta(tmp_path / "t.fa")), arch="cnn-lstm", hparams=HP, distributed=True)


def test_distributed_with_world_size_1_trains_and_destroys_its_process_group(monkeypatch, tmp_path):
    """One rank: process_group() creates a gloo group, training records world_size 1, the group is torn down.
    (DDP wrapping and the all_reduce/all_gather calls only run with two or more ranks: see above.)"""
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
    assert not dist.is_initialized()
    assert m.metadata["training"]["world_size"] == 1
    assert bioseq.load(out).fingerprint == m.fingerprint
