import os
import subprocess
import sys

import pytest

from bioseq import __version__
from bioseq.cli import main


def test_version_prints_the_version_and_exits_0(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"bioseq {__version__}\n"


def test_help_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "bioseq", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("tokenize", "train", "predict", "evaluate", "embed"):
        assert command in out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: bioseq" in capsys.readouterr().out


OVERWRITE_CASES = {
    "predict -o INPUT": ["predict", "M.safetensors", "in.fa", "-o", "in.fa"],
    "predict -o MODEL": ["predict", "M.safetensors", "in.fa", "-o", "M.safetensors"],
    "predict -o link to INPUT": ["predict", "M.safetensors", "in.fa", "-o", "link.fa"],
    "embed -o INPUT": ["embed", "M.safetensors", "in.fa", "-o", "in.fa"],
    "embed -o MODEL": ["embed", "M.safetensors", "in.fa", "--cache", "c.h5", "-o", "M.safetensors"],
    "train -o TRAIN": ["train", "in.fa", "--arch", "kmer-linear", "-o", "in.fa"],
    "train --log TRAIN": ["train", "in.fa", "--arch", "kmer-linear", "-o", "m.safetensors", "--log", "in.fa"],
    "train -o hard link to VALID": ["train", "t.fa", "--valid", "in.fa", "--arch", "kmer-linear", "-o", "hard.fa"],
    "evaluate -o PREDICTIONS": ["evaluate", "p.tsv", "--truth", "in.fa", "-o", "p.tsv"],
    "evaluate -o TRUTH": ["evaluate", "p.tsv", "--truth", "in.fa", "-o", "in.fa"],
    "evaluate --tsv same as -o": ["evaluate", "p.tsv", "--truth", "in.fa", "-o", "m.json", "--tsv", "m.json"],
    "fit-head -o LABELS": ["fit-head", "e.h5", "--labels", "p.tsv", "-o", "p.tsv"],
    "gather -o INPUT": ["gather", "p.tsv", "q.tsv", "-o", "p.tsv"],
    "shard -o INPUT": ["shard", "in.fa", "-o", "x.fa", "in.fa"],
    "cache merge OUT among INs": ["cache", "merge", "c.h5", "e.h5", "c.h5"],
}


@pytest.mark.parametrize("argv", list(OVERWRITE_CASES.values()), ids=list(OVERWRITE_CASES))
def test_no_command_writes_over_one_of_its_inputs(tmp_path, monkeypatch, capsys, argv):
    """Refused before any work: every file is left byte for byte as it was."""
    monkeypatch.chdir(tmp_path)
    files = {"in.fa": ">a label=x\nACGT\n", "t.fa": ">b label=y\nACGA\n", "M.safetensors": "model bytes",
             "p.tsv": "id\tpredicted\tprob_x\n", "q.tsv": "id\tpredicted\tprob_x\n", "c.h5": "cache", "e.h5": "e"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "link.fa").symlink_to(tmp_path / "in.fa")
    os.link(tmp_path / "in.fa", tmp_path / "hard.fa")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "refusing to overwrite an input" in err or "two outputs are the same file" in err
    for name, text in files.items():
        assert (tmp_path / name).read_text() == text, name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*files, "link.fa", "hard.fa"])
