import subprocess
import sys

from bioseq import __version__
from bioseq.cli import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert f"bioseq {__version__}" in capsys.readouterr().out


def test_help_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "bioseq", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("tokenize", "train", "predict", "evaluate", "embed"):
        assert command in out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: bioseq" in capsys.readouterr().out
