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
import pytest

import bioseq
from bioseq.cli import main

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
    bioseq.train(str(fa), arch="kmer-linear", output=d / "m.safetensors", progress=False)
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


@pytest.mark.slow
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
