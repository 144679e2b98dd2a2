"""The workflow's optional `explain:` section (rules/explain.smk), through the real ``bioseq`` CLI.

A run on a planted-motif task the test writes (GATTACAG in the `motif` class; a
4-mer kmer-linear model, ISM on the 120 test records, a MEME database with the
planted motif and decoys) must give attribution tracks per class, motif logos,
the planted motif as the best TomTom match, and all of them in the report. Dry
runs check the config errors and that the bundled demo config plans the rules
once its commented `explain:` block is enabled.

The run (train, explain, motifs: 20 s of CPU, snakemake included) took 35-45 s on the shared
2-core development machine, so its three tests are marked slow; the dry runs
are in the default suite.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from test_interpret import DECOYS, MOTIF, planted, write_fasta, write_meme_db
from test_workflow import REPO, check_logs, planned_rules, snakemake

DEMO_CONFIG = REPO / "workflows" / "config" / "config.yaml"
OUT = "results/explain/planted/kmer-linear"
EXPLAIN_TARGETS = [f"{OUT}/tracks", f"{OUT}/logos", f"{OUT}/motifs.matches.tsv"]


def planted_fasta(path: Path, n: int, seed: int) -> Path:
    """test_interpret's planted task as a labelled FASTA: MOTIF in every other record (`motif`)."""
    seqs, labels, _ = planted(n, seed)
    return write_fasta(path, seqs, labels)


def explain_config(work: Path, **explain) -> dict:
    planted_fasta(work / "train.fa", 300, 1)
    planted_fasta(work / "test.fa", 120, 3)
    write_meme_db(work / "db.meme", {"planted": MOTIF, **{f"decoy{i}": d for i, d in enumerate(DECOYS)}})
    return {
        "threads": 1, "shards": 1, "embed": False, "batch_size": 64,
        "datasets": {"planted": {"train": "train.fa", "test": "test.fa", "alphabet": "dna"}},
        "models": {"kmer-linear": {"arch": "kmer-linear", "kmer": 4}},
        "explain": {"dataset": "planted", "model": "kmer-linear", "n": 120, "tracks": 2, **explain},
    }


def write_config(work: Path, cfg: dict, name: str = "config.yaml") -> str:
    (work / name).write_text(yaml.safe_dump(cfg))
    return name


@pytest.fixture(scope="module")
def explain_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wf_explain")
    name = write_config(work, explain_config(work, db="db.meme"))
    # only the explain outputs (train, explain, motifs): the rest of the workflow has its own tests
    res = snakemake(*EXPLAIN_TARGETS, "--cores", "2", "--configfile", name, cwd=work)
    assert res.returncode == 0, res.stderr[-5000:]
    return work


@pytest.mark.slow
def test_explain_section_gives_tracks_logos_and_matches(explain_run: Path) -> None:
    out = explain_run / OUT
    from bioseq.interpret.attributions import read_attributions

    att = read_attributions(out / "attributions.h5")
    assert len(att.ids) == 120 and att.method == "ism" and np.isfinite(att.probabilities).all()
    assert sorted(p.name for p in (out / "tracks").glob("*.png")) == ["background.png", "motif.png"]
    motifs = [line.split()[1:] for line in (out / "motifs.meme").read_text().splitlines() if line.startswith("MOTIF")]
    assert motifs, "no motif found"
    assert sorted(p.stem for p in (out / "logos").glob("*.png")) == sorted(name for name, _ in motifs)
    for png in [*(out / "logos").glob("*.png"), *(out / "tracks").glob("*.png")]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
    rows = [line.split("\t") for line in (out / "motifs.matches.tsv").read_text().splitlines()[1:]]
    best = next(r for r in rows if r[0] == "pos_0")  # rows are best first per motif
    assert best[1] == "planted" and float(best[3]) < 0.05, rows[:3]
    logs = {p.relative_to(explain_run / "logs").parts[0] for p in (explain_run / "logs").rglob("*.log")}
    assert {"explain", "motifs"} <= logs
    check_logs(explain_run / "logs")


@pytest.mark.slow
def test_explain_outputs_are_in_the_report(explain_run: Path) -> None:
    res = snakemake(*EXPLAIN_TARGETS, "--cores", "1", "--configfile", "config.yaml", "--report", "report.html",
                    cwd=explain_run)
    assert res.returncode == 0, res.stderr[-3000:]
    html = (explain_run / "report.html").read_text(errors="replace")
    logos = sorted(p.name for p in (explain_run / OUT / "logos").glob("*.png"))
    for name in ("background.png", "motif.png", "motifs.meme", "motifs.matches.tsv", *logos):
        assert name in html, name
    for caption in ("Attribution tracks of model", "TF-MoDISco", "TomTom (memelite) matches"):
        assert caption in html, caption
    # the explain outputs sit under the dataset and model: still one dataset, one model
    assert "trained and evaluated 1 model configuration(s)" in html and "of 1 dataset(s)" in html
    assert "Interpretation (config section" in html
    assert "ERROR/" not in res.stderr and "WARNING/" not in res.stderr and "System Message" not in html


@pytest.mark.slow
def test_second_run_and_a_changed_test_input(explain_run: Path) -> None:
    res = snakemake(*EXPLAIN_TARGETS, "-n", "--cores", "2", "--configfile", "config.yaml", cwd=explain_run)
    assert res.returncode == 0 and planned_rules(res.stdout) == {}, res.stdout[-3000:]
    planted_fasta(explain_run / "test.fa", 120, 4)
    res = snakemake("-n", "--cores", "2", "--configfile", "config.yaml", cwd=explain_run)
    planned = planned_rules(res.stdout)  # the whole workflow: explain is part of `all`
    assert planned["explain"] == 1 and planned["motifs"] == 1 and "train" not in planned, planned
    assert planned["evaluate"] == 1, planned


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        ({"dataset": "nope"}, "explain.dataset", "unknown dataset 'nope'"),
        ({"model": "cnn"}, "explain.model", "model 'cnn' is not trained on dataset 'planted'"),
        ({"method": "saliency"}, "explain.method", "kmer-linear: use ism"),
        ({"db": "missing.meme"}, "explain.db", "file not found"),
    ],
)
def test_bad_explain_section_fails_before_any_job(tmp_path: Path, change: dict, key: str, message: str) -> None:
    cfg = explain_config(tmp_path)
    cfg["explain"].update(change)
    res = snakemake("-n", "--cores", "1", "--configfile", write_config(tmp_path, cfg), cwd=tmp_path)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert key in out and message in out, out[-2000:]


def test_a_dataset_without_test_input_cannot_be_explained(tmp_path: Path) -> None:
    cfg = explain_config(tmp_path)
    del cfg["datasets"]["planted"]["test"]
    res = snakemake("-n", "--cores", "1", "--configfile", write_config(tmp_path, cfg), cwd=tmp_path)
    assert res.returncode != 0 and "has no `test` input" in res.stdout + res.stderr, res.stdout[-2000:]


def test_demo_config_plans_explain_once_its_block_is_uncommented(tmp_path: Path) -> None:
    """The bundled config carries the `explain:` block commented out (the demo stays near 5 minutes);
    uncommented as it stands, it is valid and adds the explain and motifs jobs for splice_uci / auto."""
    lines = DEMO_CONFIG.read_text().splitlines()
    start = lines.index("# explain:")
    end = start + 1
    while end < len(lines) and lines[end].startswith("#   "):  # the block's indented lines
        end += 1
    assert end - start >= 3
    text = "\n".join(lines[:start] + [line[2:] for line in lines[start:end]] + lines[end:]) + "\n"
    cfg = yaml.safe_load(text)
    assert cfg["explain"] == {"dataset": "splice_uci", "model": "auto", "n": 200, "method": "ism", "tracks": 3}
    cfg["basedir"] = str(REPO)
    res = snakemake("-n", "--cores", "2", "--configfile", write_config(tmp_path, cfg), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    planned = planned_rules(res.stdout)
    assert planned["explain"] == 1 and planned["motifs"] == 1, planned
    assert "explain/splice_uci/auto/logos" in res.stdout
