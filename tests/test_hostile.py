"""A standing hostile-input suite: every crafted input gets a named error or a correct result.

Each case runs the real command line (``bioseq.cli.main`` in process, or the
``bioseq`` executable where a process must be killed) and checks three things:
the exit status, that stderr holds one ``bioseq <command>: error:`` line naming
the offending file (never a Python traceback), and that no file the command
did not create changed or appeared half-written.
"""

from __future__ import annotations

import gzip
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import bioseq
from bioseq.cli import main
from bioseq.errors import BioseqError

ROOT = Path(__file__).resolve().parents[1]
SPLICE = ROOT / "data" / "splice_uci" / "train.fa.gz"

GOOD_FASTA = ">a label=x\nACGTACGTAC\n>b label=y\nTTGTACGTAA\n>c label=x\nACGTAAGTAC\n>d label=y\nTTGTTCGTAA\n"


def corpus(d: Path) -> dict[str, Path]:
    """Crafted sequence and table files, by what is wrong with them."""
    files = {
        "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        "truncated gzip": gzip.compress(GOOD_FASTA.encode())[:30],
        "gzip of binary": gzip.compress(bytes(range(256)) * 4),
        "empty": b"",
        "only blank lines": b"\n\n\n",
        "header without sequence id": b">\nACGT\n",
        "fastq without plus line": b"@r1\nACGT\nIIII\n",
        "nul bytes in sequence": b">a label=x\nAC\x00GT\n",
        "non-UTF-8 header": b">\xff\xfe label=x\nACGT\n",
        "duplicate ids": b">a label=x\nACGT\n>a label=y\nACGA\n",
        "protein letters in DNA": b">a label=x\nACGTQWERTY\n>b label=y\nACGT\n",
    }
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, data in files.items():
        path = d / (name.replace(" ", "_") + (".fa.gz" if "gzip" in name else ".fa"))
        path.write_bytes(data)
        out[name] = path
    (d / "a_directory.fa").mkdir()
    out["a directory"] = d / "a_directory.fa"
    return out


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def kmer_bundle(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hostile_model")
    fa = d / "train.fa"
    fa.write_text(GOOD_FASTA * 1)
    # contiguous 1-6-mers only (5k columns): the kill test below needs seconds of predict and
    # embed work, not the minutes that 182k-wide default rows take to embed
    bioseq.train(str(fa), arch="kmer-linear", k=6, hparams={"gap_k": 0}, output=d / "m.safetensors", progress=False)
    return d / "m.safetensors"


COMMANDS = {
    "predict": lambda bad, out, model: ["predict", model, bad, "-o", out / "p.tsv"],
    "embed": lambda bad, out, model: ["embed", model, bad, "--cache", out / "c.h5"],
    "train": lambda bad, out, model: ["train", bad, "--arch", "kmer-linear", "-o", out / "m2.safetensors"],
    "tokenize": lambda bad, out, model: ["tokenize", bad, "--kmer", "3"],
    "shard": lambda bad, out, model: ["shard", bad, "-o", out / "s1.fa", out / "s2.fa"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_crafted_sequence_files_get_a_named_error_and_leave_nothing_behind(tmp_path, capsys, kmer_bundle, command):
    files = corpus(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(tmp_path / "in")
    for what, bad in files.items():
        if command == "shard" and what == "protein letters in DNA":
            continue  # shard splits records of any alphabet: a correct result, checked elsewhere
        rc, err = run_cli(COMMANDS[command](bad, out, kmer_bundle), capsys)
        assert rc == 1, f"{command} on {what}: exit {rc}\n{err}"
        assert f"bioseq {command}: error: " in err and "Traceback" not in err, f"{command} on {what}: {err}"
        assert bad.name in err, f"{command} on {what}: the error does not name the file: {err}"
        assert snapshot(out) == {}, f"{command} on {what} left {list(snapshot(out))}"
    assert snapshot(tmp_path / "in") == before


@pytest.mark.parametrize("what", ["binary", "gzip", "a directory", "empty"])
def test_crafted_prediction_and_label_tables_get_a_named_error(tmp_path, capsys, what):
    fa = tmp_path / "truth.fa"
    fa.write_text(GOOD_FASTA)
    bad = tmp_path / "bad.tsv"
    if what == "binary":
        bad.write_bytes(bytes(range(256)))
    elif what == "gzip":
        bad.write_bytes(gzip.compress(b"id\tpredicted\tprob_x\n"))
    elif what == "a directory":
        bad.mkdir()
    else:
        bad.write_bytes(b"")
    good = tmp_path / "good.tsv"
    good.write_text("id\tpredicted\tprob_x\tprob_y\na\tx\t0.9\t0.1\n")
    cases = {
        "evaluate": ["evaluate", bad, "--truth", fa, "-o", tmp_path / "m.json"],
        "evaluate labels": ["evaluate", good, "--truth", fa, "--labels", bad, "-o", tmp_path / "m.json"],
        "gather": ["gather", good, bad, "-o", tmp_path / "g.tsv"],
        "train labels": ["train", fa, "--labels", bad, "--arch", "kmer-linear", "-o", tmp_path / "m.safetensors"],
    }
    for name, argv in cases.items():
        rc, err = run_cli(argv, capsys)
        assert rc == 1 and "Traceback" not in err and "bad.tsv" in err, f"{name} ({what}): {err}"
        assert not (tmp_path / "m.json").exists() and not (tmp_path / "g.tsv").exists()


def _bioseq(*args: object) -> list[str]:
    return [sys.executable, "-m", "bioseq", *map(str, args)]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _kill_at(cmd: list[str], delay: float) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_kill_9_of_predict_and_embed_at_random_moments_loses_nothing_and_leaves_no_debris(tmp_path, kmer_bundle):
    """Killed anywhere, an output is absent or complete; the next run cleans up and finishes the job."""
    big = tmp_path / "big.fa"
    with gzip.open(SPLICE, "rt") as src:
        text = src.read()
    big.write_text("".join(text.replace(">", f">c{k}_") for k in range(20)))  # ~44k records: seconds of work
    n_records = text.count(">") * 20
    rng = random.Random(0)
    table, cache = tmp_path / "p.tsv", tmp_path / "c.h5"
    for _ in range(4):
        _kill_at(_bioseq("predict", kmer_bundle, big, "-o", table), rng.uniform(0.5, 4.0))
        if table.exists():  # renamed into place before the kill: then it is complete
            assert table.read_text().count("\n") == n_records + 1
        _kill_at(_bioseq("embed", kmer_bundle, big, "--cache", cache), rng.uniform(0.5, 4.0))
    assert subprocess.run(_bioseq("predict", kmer_bundle, big, "-o", table), env=_env()).returncode == 0
    assert subprocess.run(_bioseq("embed", kmer_bundle, big, "--cache", cache), env=_env()).returncode == 0
    assert table.read_text().count("\n") == n_records + 1
    distinct = {rec.split("\n", 1)[1].replace("\n", "") for rec in text.split(">")[1:]}
    with bioseq.EmbeddingCache(cache) as c:
        assert len(c) == len(distinct)  # every distinct sequence once, however the kills fell
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp") or p.name.endswith(".lock")]
    assert leftovers == []
    with h5py.File(cache) as f:
        assert f.attrs["format"] == "bioseq-embedding-cache"


# ----------------------------------------------------------------------------- crafted bundles


def _rewrite_bundle(src: Path, dst: Path, edit_meta=None, edit_tensors=None, refingerprint=True, raw=None) -> Path:
    """A copy of a bundle as an adversary would make it: edited, then (usually) re-fingerprinted."""
    import json

    from safetensors.numpy import save_file

    from bioseq.bundle import compute_fingerprint, read_arrays

    tensors, meta = read_arrays(src)
    if edit_tensors:
        tensors = edit_tensors(tensors)
    if edit_meta:
        edit_meta(meta)
    if refingerprint:
        meta["fingerprint"] = compute_fingerprint(tensors, meta)
    text = json.dumps(meta)
    if raw:
        text = raw(text)
    save_file(tensors, str(dst), metadata={"bioseq": text})
    return dst


def _set(key, value):
    return lambda m: m.__setitem__(key, value)


def _cast_first_float(dtype):
    def edit(tensors):
        name = next(k for k, v in tensors.items() if v.dtype.kind == "f")
        return {**tensors, name: (tensors[name] * 1000).astype(dtype)}
    return edit


CRAFTED_BUNDLES = {
    "metadata nested 100,000 deep": dict(raw=lambda t: t[:-1] + ', "history": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "hparams is a list": dict(edit_meta=_set("hparams", [1, 2])),
    "tokenizer is a string": dict(edit_meta=_set("tokenizer", "kmer")),
    "labels is a string": dict(edit_meta=_set("labels", "xy")),
    "labels duplicated": dict(edit_meta=_set("labels", ["x", "x"])),
    "label holds a tab": dict(edit_meta=_set("labels", ["x\tz", "y"])),
    "label holds a newline": dict(edit_meta=_set("labels", ["x", "y\nz"])),
    "unknown task": dict(edit_meta=_set("task", "regression")),
    "binary task with 3 labels": dict(edit_meta=_set("labels", ["x", "y", "z"])),
    "thresholds of the wrong length": dict(edit_meta=_set("thresholds", [0.5])),
    "fingerprint deleted": dict(edit_meta=lambda m: m.pop("fingerprint"), refingerprint=False),
    "fingerprint not recomputed": dict(edit_meta=_set("labels", ["y", "x"]), refingerprint=False),
    "weights cast to int64": dict(edit_tensors=_cast_first_float("int64")),
    "weights hold NaN": dict(edit_tensors=lambda t: {k: (v * np.nan if v.dtype.kind == "f" else v)
                                                       for k, v in t.items()}),
}


@pytest.fixture(scope="module")
def cnn_bundle(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hostile_cnn")
    fa = d / "train.fa"
    fa.write_text(GOOD_FASTA * 1)
    hp = {"conv_filters": [4], "conv_kernels": [3], "pool_sizes": [2], "rnn_hidden": 4, "head_hidden": 0}
    bioseq.train(str(fa), arch="cnn-lstm", hparams=hp, epochs=1, output=d / "m.safetensors", progress=False)
    return d / "m.safetensors"


@pytest.mark.parametrize("arch", ["kmer-linear", "cnn-lstm"])
def test_crafted_bundles_are_refused_by_load_info_and_predict_with_a_named_error(
    tmp_path, capsys, kmer_bundle, cnn_bundle, arch
):
    src = kmer_bundle if arch == "kmer-linear" else cnn_bundle
    fa = tmp_path / "in.fa"
    fa.write_text(GOOD_FASTA)
    for what, how in CRAFTED_BUNDLES.items():
        bad = _rewrite_bundle(src, tmp_path / f"{what.replace(' ', '_')}.safetensors", **how)
        with pytest.raises(BioseqError) as err:
            bioseq.load(bad)
        assert str(bad) in str(err.value), what
        for argv in (["info", bad], ["predict", bad, fa, "-o", tmp_path / "p.tsv"]):
            rc, stderr = run_cli(argv, capsys)
            assert rc == 1 and "Traceback" not in stderr and bad.name in stderr, f"{what}: {argv[0]}: {stderr}"
        assert not (tmp_path / "p.tsv").exists()


@pytest.mark.parametrize("what", ["pickle with code", "torch.save file", "garbage", "safetensors without state"])
def test_a_crafted_checkpoint_is_refused_by_resume_without_running_anything(tmp_path, capsys, what):
    import pickle

    import torch
    from safetensors.numpy import save_file

    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    fa = tmp_path / "train.fa"
    fa.write_text(GOOD_FASTA)
    ckpt = tmp_path / "m.ckpt"
    if what == "pickle with code":
        ckpt.write_bytes(pickle.dumps({"version": 2, "x": Payload()}))
    elif what == "torch.save file":
        torch.save({"bioseq_checkpoint": 1, "x": Payload()}, ckpt)
    elif what == "garbage":
        ckpt.write_bytes(bytes(range(256)) * 8)
    else:
        save_file({"w": np.zeros(3, np.float32)}, str(ckpt))
    hp = '{"conv_filters": [4], "rnn_hidden": 4}'
    rc, err = run_cli(["train", fa, "--arch", "cnn-lstm", "--epochs", "1", "--resume", "--hparams", hp,
                       "-o", tmp_path / "m.safetensors"], capsys)
    assert rc == 1 and "cannot resume" in err and "m.ckpt" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "m.safetensors").exists()
