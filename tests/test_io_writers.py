"""Prediction tables: format, round trip, atomic replacement, clear errors on malformed tables."""

import numpy as np
import pytest

from bioseq.errors import EmptyInputError, InputFormatError
from bioseq.io.writers import PredictionBatch, PredictionTable, PredictionWriter, read_predictions

LABELS = ["EI", "IE", "N"]


def test_round_trip_and_format(tmp_path):
    path = tmp_path / "out" / "pred.tsv"
    probs = np.array([[0.9, 0.05, 0.05], [1 / 3, 1 / 3, 1 / 3], [0.0, 1e-9, 1.0]], dtype=np.float32)
    with PredictionWriter(path, LABELS) as w:
        w.write(PredictionBatch(["a", "b"], ["EI", 1], probs[:2]))
        w.write(PredictionBatch(["c"], np.array([2]), probs[2:]))
    lines = path.read_text().splitlines()
    assert lines[0] == "id\tpredicted\tprob_EI\tprob_IE\tprob_N"
    assert lines[2] == "b\tIE\t0.333333\t0.333333\t0.333333"
    assert lines[3] == "c\tN\t0\t1e-09\t1"
    table = read_predictions(path)
    assert isinstance(table, PredictionTable)
    ids, predicted, labels, got = table
    assert ids == ["a", "b", "c"] and predicted == ["EI", "IE", "N"] and labels == LABELS
    np.testing.assert_allclose(got, probs, rtol=1e-5)
    assert got.dtype == np.float64 and got.shape == (3, 3)


def test_multilabel_and_header_only(tmp_path):
    path = tmp_path / "ml.tsv"
    with PredictionWriter(path, ["x", "y"], multilabel=True) as w:
        w.write(PredictionBatch(["a", "b"], [["x", "y"], []], [[0.9, 0.8], [0.1, 0.2]]))
    assert path.read_text().splitlines()[1:] == ["a\tx,y\t0.9\t0.8", "b\t\t0.1\t0.2"]
    empty = tmp_path / "empty.tsv"
    with PredictionWriter(empty, ["x", "y"]):
        pass
    table = read_predictions(empty)
    assert table.ids == [] and table.probs.shape == (0, 2)


def test_exception_mid_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "pred.tsv"
    path.write_text("previous\n")
    with pytest.raises(RuntimeError, match="boom"):
        with PredictionWriter(path, LABELS) as w:
            w.write(PredictionBatch(["a"], ["EI"], [[1, 0, 0]]))
            raise RuntimeError("boom")
    assert path.read_text() == "previous\n"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_nothing_appears_before_a_clean_exit(tmp_path):
    path = tmp_path / "pred.tsv"
    with PredictionWriter(path, LABELS) as w:
        w.write(PredictionBatch(["a"], ["EI"], [[1, 0, 0]]))
        assert not path.exists()
    assert path.exists()


def test_bad_batches_are_programming_errors(tmp_path):
    with PredictionWriter(tmp_path / "p.tsv", LABELS) as w:
        with pytest.raises(ValueError, match="shapes"):
            w.write(PredictionBatch(["a", "b"], ["EI"], [[1, 0, 0]]))
        with pytest.raises(ValueError, match="tabs"):
            w.write(PredictionBatch(["a\tb"], ["EI"], [[1, 0, 0]]))
    with pytest.raises(ValueError, match="duplicate labels"):
        PredictionWriter(tmp_path / "q.tsv", ["a", "a"])
    assert not (tmp_path / "q.tsv").exists()


def test_bad_batch_inside_with_block_leaves_no_table(tmp_path):
    path = tmp_path / "p.tsv"
    with pytest.raises(ValueError, match="shapes"), PredictionWriter(path, LABELS) as w:
        w.write(PredictionBatch(["a", "b"], ["EI"], [[1, 0, 0]]))
    assert list(tmp_path.iterdir()) == []


def test_close_without_with_puts_the_table_in_place_and_write_after_close_fails(tmp_path):
    path = tmp_path / "p.tsv"
    w = PredictionWriter(path, LABELS)
    w.write(PredictionBatch(["a"], ["EI"], [[1, 0, 0]]))
    assert not path.exists()
    w.close()
    w.close()  # a second close does nothing
    assert read_predictions(path).ids == ["a"] and w.rows == 1
    with pytest.raises(RuntimeError, match="already closed"):
        w.write(PredictionBatch(["b"], ["EI"], [[1, 0, 0]]))
    assert list(tmp_path.iterdir()) == [path]


def test_abort_keeps_the_old_table_and_removes_the_temporary_file(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("previous\n")
    w = PredictionWriter(path, LABELS)
    w.write(PredictionBatch(["a"], ["EI"], [[1, 0, 0]]))
    w.abort()
    w.close()  # after abort: nothing to commit
    assert path.read_text() == "previous\n"
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    "text, error, line, record",
    [
        ("", EmptyInputError, None, None),
        ("seq\tpred\n", InputFormatError, 1, None),
        ("id\tpredicted\tscore_a\n", InputFormatError, 1, None),
        ("id\tpredicted\tprob_a\tprob_b\nr1\ta\t0.5\t0.5\nr2\ta\t0.5\n", InputFormatError, 3, "r2"),
        ("id\tpredicted\tprob_a\nr1\ta\t0.5\nr2\ta\thigh\n", InputFormatError, 3, "r2"),
    ],
)
def test_malformed_tables(tmp_path, text, error, line, record):
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    with pytest.raises(error) as err:
        read_predictions(path)
    assert str(path) in str(err.value)
    assert err.value.line == line and err.value.record == record
