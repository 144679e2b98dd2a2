"""fit-head: a logistic-regression head on cached embeddings, saved without pickle."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_embed_cache import FP_A, FakeModel, expected, make_records

from bioseq.cli import main as cli_main
from bioseq.embed import embed, embed_to_file, fit_head, load_head, predict_with_head
from bioseq.embed.head import Head
from bioseq.errors import BundleError, LabelError
from bioseq.models.logistic import Logistic


def labelled(n: int = 90, n_classes: int = 2) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Records and labels that the fake embeddings separate linearly (by sequence length)."""
    recs = make_records(n)
    first = np.array([len(s) for _, s in recs]) + 0.1 * expected(recs)[:, 0]
    cuts = np.quantile(first, np.linspace(0, 1, n_classes + 1)[1:-1])
    names = ["neg", "pos"] if n_classes == 2 else [f"c{i}" for i in range(n_classes)]
    return recs, {r: names[int(np.searchsorted(cuts, v))] for (r, _), v in zip(recs, first, strict=True)}


def write_table(path, table: dict[str, str]):
    path.write_text("id\tlabel\n" + "".join(f"{k}\t{v}\n" for k, v in table.items()))
    return path


@pytest.mark.parametrize("n_classes", [2, 3])
def test_fit_head_round_trip_matches_scikit_learn(tmp_path, n_classes) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    recs, table = labelled(90, n_classes)
    embed(FakeModel(), recs, cache=tmp_path / "c.h5")
    head = fit_head(tmp_path / "c.h5", write_table(tmp_path / "labels.tsv", table), tmp_path / "head.st",
                    class_weight=None)
    loaded = load_head(tmp_path / "head.st")
    assert loaded.labels == sorted(set(table.values())) and loaded.model_fingerprint == FP_A
    assert loaded.embedding_dim == 8 and loaded.metadata["n_train"] == 90
    for name, array in head.linear.state_dict().items():
        np.testing.assert_array_equal(loaded.linear.state_dict()[name], array)
    x = expected(recs).astype(np.float64)
    y = [table[r] for r, _ in recs]
    scaler = StandardScaler().fit(x)
    ref = LogisticRegression(max_iter=1000).fit(scaler.transform(x), y)
    np.testing.assert_allclose(loaded.predict_proba(x), ref.predict_proba(scaler.transform(x)), atol=1e-5)
    assert np.mean(np.array(loaded.predict(x)) == np.array(y)) > 0.8


def test_safetensors_file_holds_arrays_and_json_metadata_only(tmp_path) -> None:
    from safetensors import safe_open

    recs, table = labelled()
    embed(FakeModel(), recs, cache=tmp_path / "c.h5")
    fit_head(tmp_path / "c.h5", table, tmp_path / "head.safetensors")
    with safe_open(str(tmp_path / "head.safetensors"), framework="numpy") as fh:
        assert sorted(fh.keys()) == ["coef", "intercept", "scaler_mean", "scaler_scale"]
        meta = json.loads(fh.metadata()["bioseq_head"])
    assert meta["labels"] == ["neg", "pos"] and meta["model_fingerprint"] == FP_A
    assert meta["embedding_dim"] == 8 and meta["format"] == "bioseq-head"


def test_labels_from_a_labelled_fasta_are_joined_by_sequence(tmp_path) -> None:
    recs, table = labelled()
    embed(FakeModel(), recs, cache=tmp_path / "c.h5")
    fasta = tmp_path / "train.fa"
    # the cache stored other ids for these sequences: the join is by content
    fasta.write_text("".join(f">x{r} label={table[r]}\n{s}\n" for r, s in recs))
    head = fit_head(tmp_path / "c.h5", fasta)
    assert head.labels == ["neg", "pos"] and head.metadata["n_train"] == 90


def test_unknown_ids_and_single_class_are_label_errors(tmp_path) -> None:
    recs, table = labelled(30)
    embed(FakeModel(), recs, cache=tmp_path / "c.h5")
    with pytest.raises(LabelError, match="1 of 31 labelled ids are not in") as err:
        fit_head(tmp_path / "c.h5", write_table(tmp_path / "l.tsv", {**table, "ghost": "pos"}))
    assert "ghost" in str(err.value)
    with pytest.raises(LabelError, match="two classes"):
        fit_head(tmp_path / "c.h5", dict.fromkeys(table, "pos"))
    with pytest.raises(LabelError, match="single-label"):
        fit_head(tmp_path / "c.h5", {**table, recs[0][0]: ("pos", "neg")})


def test_load_head_rejects_other_files(tmp_path) -> None:
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(3)}, str(tmp_path / "bundle.safetensors"), metadata={"bioseq": "{}"})
    with pytest.raises(BundleError, match="not a bioseq head"):
        load_head(tmp_path / "bundle.safetensors")
    (tmp_path / "junk").write_bytes(b"\x00" * 100)
    with pytest.raises(BundleError) as err:
        load_head(tmp_path / "junk")
    assert str(tmp_path / "junk") in str(err.value)


def test_predict_with_head_writes_table_and_refuses_another_models_head(tmp_path) -> None:
    from bioseq.io.writers import read_predictions

    recs, table = labelled()
    model = FakeModel()
    embed_to_file(model, recs, tmp_path / "export.h5")
    head = fit_head(tmp_path / "export.h5", table, tmp_path / "head.safetensors")
    n = predict_with_head(model, tmp_path / "head.safetensors", recs, tmp_path / "pred.tsv",
                          cache=tmp_path / "c.h5")
    assert n == 90 and model.calls > 0
    ids, predicted, labels, probs = read_predictions(tmp_path / "pred.tsv")
    assert list(ids) == [r for r, _ in recs] and list(labels) == ["neg", "pos"]
    np.testing.assert_allclose(probs, head.predict_proba(expected(recs)), atol=1e-5)
    assert list(predicted) == head.predict(expected(recs))
    with pytest.raises(BundleError, match="fitted on embeddings of model aaaaaaaaaaaa"):
        predict_with_head(FakeModel("b" * 64), tmp_path / "head.safetensors", recs, tmp_path / "p2.tsv")
    assert not (tmp_path / "p2.tsv").exists()


def test_head_predict_proba_checks_dim() -> None:
    head = Head(["a", "b"], Logistic(np.ones((2, 4)), np.zeros(2), np.zeros(4), np.ones(4)), FP_A)
    with pytest.raises(Exception, match=r"\(n, 4\)"):
        head.predict_proba(np.zeros((2, 5)))


def test_cli_fit_head(tmp_path, capsys) -> None:
    recs, table = labelled()
    embed(FakeModel(), recs, cache=tmp_path / "c.h5")
    write_table(tmp_path / "l.tsv", table)
    assert cli_main(["fit-head", str(tmp_path / "c.h5"), "--labels", str(tmp_path / "l.tsv"),
                     "-o", str(tmp_path / "h.safetensors"), "--model-fingerprint", FP_A]) == 0
    assert "2 classes, 90 embeddings" in capsys.readouterr().err
    assert load_head(tmp_path / "h.safetensors").labels == ["neg", "pos"]
    assert cli_main(["fit-head", str(tmp_path / "c.h5"), "--labels", str(tmp_path / "l.tsv"),
                     "-o", str(tmp_path / "h2"), "--model-fingerprint", "f" * 64]) == 1
