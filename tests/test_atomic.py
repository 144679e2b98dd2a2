"""Outputs are complete or absent: never half-written."""

import os
from pathlib import Path

import pytest

from bioseq.errors import ConfigError
from bioseq.io.atomic import atomic_open, refuse_to_overwrite, remove_stale_temps, temp_beside


def test_success_replaces_file(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_open(target) as fh:
        fh.write("new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_failure_keeps_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("partial")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def _temp_of_a_killed_writer(dest):
    """The temporary a writer killed before its rename leaves behind (made in a child that dies)."""
    import subprocess
    import sys

    code = (
        "import os, sys; from pathlib import Path; from bioseq.io.atomic import temp_beside;"
        "t = temp_beside(Path(sys.argv[1])); t.write_text('half'); print(t); sys.stdout.flush(); os._exit(9)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(dest)], capture_output=True, text=True)
    return Path(out.stdout.strip())


def test_next_write_of_an_output_removes_temporaries_of_killed_writers(tmp_path):
    target = tmp_path / "out.tsv"
    debris = _temp_of_a_killed_writer(target)
    assert debris.exists() and debris.name.startswith(".out.tsv.") and debris.suffix == ".tmp"
    unrelated = _temp_of_a_killed_writer(tmp_path / "other.tsv")
    with atomic_open(target) as fh:
        fh.write("new")
    assert not debris.exists()
    assert unrelated.exists()  # only the temporaries of the output being written
    assert target.read_text() == "new"


def test_temporaries_of_live_writers_are_kept(tmp_path):
    target = tmp_path / "out.tsv"
    live = temp_beside(target)  # this process: alive
    assert remove_stale_temps(target) == []
    assert live.exists()
    assert remove_stale_temps(target, any_process=True) == [live]


@pytest.mark.parametrize("how", ["same path", "relative path", "symlink", "hard link"])
def test_an_output_that_is_an_input_is_refused_before_writing(tmp_path, monkeypatch, how):
    src = tmp_path / "in.fa"
    src.write_text(">a\nACGT\n")
    monkeypatch.chdir(tmp_path)
    out = {"same path": src, "relative path": Path("sub/../in.fa"), "symlink": tmp_path / "ln.fa",
           "hard link": tmp_path / "hard.fa"}[how]
    (tmp_path / "sub").mkdir()
    if how == "symlink":
        out.symlink_to(src)
    elif how == "hard link":
        os.link(src, out)
    with pytest.raises(ConfigError, match="refusing to overwrite an input") as err:
        refuse_to_overwrite([out], [["x.fa", src], None, "-"])
    assert str(out) in str(err.value)
    assert src.read_text() == ">a\nACGT\n"


def test_distinct_outputs_and_inputs_pass_and_two_identical_outputs_do_not(tmp_path):
    refuse_to_overwrite([tmp_path / "a.tsv", "-", None], [tmp_path / "b.fa", "-"])
    with pytest.raises(ConfigError, match="two outputs are the same file"):
        refuse_to_overwrite([tmp_path / "a.tsv", tmp_path / "x" / ".." / "a.tsv"], [])
