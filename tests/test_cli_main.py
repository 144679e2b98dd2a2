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
