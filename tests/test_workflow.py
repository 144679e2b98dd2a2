"""The Snakemake workflow end to end on tiny data, through the real ``bioseq`` CLI.

The fast variant (default suite) runs one dataset with the k-mer baseline in
two shards, then checks the outputs, that a second run does nothing, that
touching one input re-plans only the jobs downstream of it, and the report.
The slow variant runs both datasets with a 1-epoch CNN-LSTM, unlabelled inputs
included, and the module example runs for real.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
FIXTURES = REPO / "tests" / "data" / "workflow"
BIN = Path(sys.executable).parent


def snakemake(*args: str, cwd: Path, snakefile: Path = SNAKEFILE, timeout: int = 600):
    """Run the venv's snakemake in ``cwd``, with the venv's bin (``bioseq``) first on PATH and this
    checkout's ``bioseq`` package first on the Python path (not whichever one the venv installed)."""
    exe = BIN / "snakemake"
    cmd = [str(exe) if exe.exists() else shutil.which("snakemake"), "-s", str(snakefile), *args]
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def record_ids(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return [line[1:].split()[0] for line in fh if line.startswith(">")]


def rotate_records(path: Path) -> None:
    """Move the first record of a FASTA file to its end (same records, new content)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        text = fh.read()
    first, rest = text.split("\n>", 1)
    with opener(path, "wt") as fh:
        fh.write(">" + rest.rstrip("\n") + "\n" + first + "\n")


def header_labels(path: Path) -> list[str]:
    """The ``label=`` value of every record of a FASTA file, in order."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return [re.search(r"\blabel=(\S+)", line).group(1) for line in fh if line.startswith(">")]


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a TSV file."""
    lines = path.read_text().splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def table_ids(path: Path) -> tuple[list[str], list[str]]:
    header, rows = read_table(path)
    return header, [row[0] for row in rows]


def check_logs(logs: Path) -> None:
    """Every job logged the one-line summary of its bioseq command, and nothing went wrong."""
    files = sorted(logs.rglob("*.log"))
    assert files
    for log in files:
        text = log.read_text()
        assert text.startswith("bioseq"), f"{log}: {text[:300]!r}"
        assert "Traceback" not in text and "error:" not in text, f"{log}: {text[-1000:]}"


def planned_rules(output: str) -> dict[str, int]:
    """{rule: count} from the 'Job stats' table of a dry run (empty when nothing is to be done)."""
    if "Job stats:" not in output:
        return {}
    counts = {}
    for line in output.split("Job stats:", 1)[1].splitlines()[3:]:
        m = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    counts.pop("total", None)
    return counts


def check_run(work: Path, cfg: dict) -> None:
    """Per dataset and model: the bundle is the configured architecture; every prediction table has
    one row per input record, in input order, with one probability column per model label; the
    test-set metrics agree with the predictions table; the embedding cache holds every input record."""
    import bioseq
    from bioseq.embed import EmbeddingCache

    out = work / cfg["outdir"]
    for ds, spec in cfg["datasets"].items():
        inputs = {"test": spec["test"]}
        predict = spec.get("predict", {})
        inputs.update(predict if isinstance(predict, dict) else {Path(p).name.split(".")[0]: p for p in predict})
        for model_name, model_cfg in cfg["models"].items():
            model = bioseq.load(out / "models" / ds / f"{model_name}.safetensors")
            assert model.arch == model_cfg["arch"]
            for name, path in inputs.items():
                header, ids = table_ids(out / "predictions" / f"{ds}.{model_name}.{name}.tsv")
                assert header == ["id", "predicted", *(f"prob_{lab}" for lab in model.labels)]
                assert ids == record_ids(work / path)
            ev = out / "evaluation" / ds / model_name / "test"
            metrics = json.loads((ev / "metrics.json").read_text())
            truth = header_labels(work / spec["test"])
            assert metrics["n"] == len(truth)
            assert metrics["labels"] == model.labels
            _, rows = read_table(out / "predictions" / f"{ds}.{model_name}.test.tsv")
            predicted = [row[1] for row in rows]
            hits = sum(p == t for p, t in zip(predicted, truth, strict=True))
            assert metrics["accuracy"] == pytest.approx(hits / len(truth))
            assert sum(map(sum, metrics["confusion_matrix"]["counts"])) == len(truth)
            header, metric_rows = read_table(ev / "metrics.tsv")
            assert header == ["metric", "label", "value"]
            (accuracy,) = [float(value) for name, label, value in metric_rows if name == "accuracy"]
            assert accuracy == pytest.approx(metrics["accuracy"])
            for plot in ("learning_curves", "confusion_matrix", "roc", "pr"):
                assert (ev / "plots" / f"{plot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            if cfg.get("embed", True):
                all_ids = {i for path in inputs.values() for i in record_ids(work / path)}
                with EmbeddingCache(out / "embeddings" / f"{ds}.{model_name}.h5") as cache:
                    assert set(cache.ids) == all_ids
    # shards are kept (so that a changed input is seen), per-shard results are temporary
    n_inputs = sum(1 + len(spec.get("predict", [])) for spec in cfg["datasets"].values())
    assert len(list(out.glob("shards/*/*/*-of-*.fa"))) == n_inputs * cfg["shards"]
    assert not list(out.glob("predictions/shards/**/*.tsv"))
    assert not list(out.glob("embeddings/shards/**/*.h5"))
    check_logs(work / "logs")


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fast tiny config, run once for the tests of this module that share it."""
    work = tmp_path_factory.mktemp("wf") / "work"
    shutil.copytree(FIXTURES, work)
    res = snakemake("--cores", "2", "--configfile", "config_fast.yaml", cwd=work)
    assert res.returncode == 0, res.stderr[-5000:]
    return work


def test_fast_run_outputs(fast_run: Path) -> None:
    import yaml

    cfg = yaml.safe_load((fast_run / "config_fast.yaml").read_text())
    cfg.setdefault("outdir", "results")
    check_run(fast_run, cfg)
    logs = sorted(p.relative_to(fast_run / "logs").parts[0] for p in (fast_run / "logs").rglob("*.log"))
    assert set(logs) == {
        "train",
        "shard",
        "predict",
        "gather_predictions",
        "embed",
        "merge_caches",
        "evaluate",
        "compare",
    }


def test_second_run_does_nothing(fast_run: Path) -> None:
    res = snakemake("--cores", "2", "--configfile", "config_fast.yaml", cwd=fast_run)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Nothing to be done" in res.stdout + res.stderr


def assert_comparison_table(html: str, rows: list[tuple[str, str]]) -> None:
    """The front page holds the model comparison as an HTML table: one row per dataset and model."""
    import html as html_lib

    text = html_lib.unescape(html.replace("\\n", "\n").replace('\\"', '"').replace("\\/", "/"))
    tables = re.findall(r"<table.*?</table>", text, flags=re.S)
    table = next((t for t in tables if "Test-set metrics of every model" in t), None)
    assert table is not None, "no inline comparison table on the front page"
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", table, flags=re.S)]
    assert cells[:6] == ["dataset", "model", "input", "task", "n", "accuracy"], cells[:8]
    for dataset, model in rows:
        assert any(cells[i:i + 3] == [dataset, model, "test"] for i in range(len(cells))), (dataset, model, cells)


def test_report_has_plots_and_metrics_per_model(fast_run: Path) -> None:
    res = snakemake("--cores", "1", "--configfile", "config_fast.yaml", "--report", "report.html", cwd=fast_run)
    assert res.returncode == 0, res.stderr[-3000:]
    html = (fast_run / "report.html").read_text(errors="replace")
    for name in ("learning_curves.png", "confusion_matrix.png", "roc.png", "pr.png", "metrics.tsv"):
        assert name in html
    assert "Precision-recall curves" in html and "splice" in html and "kmer-linear" in html
    assert "trained and evaluated 1 model configuration(s)" in html
    assert_comparison_table(html, [("splice", "kmer-linear")])


def test_changing_one_input_replans_only_its_dependents(fast_run: Path) -> None:
    # Snakemake 9 compares checksums when an input is newer, so a bare touch is not a
    # change: move the first record to the end.
    rotate_records(fast_run / "splice" / "test.fa")
    res = snakemake("-n", "--cores", "2", "--configfile", "config_fast.yaml", cwd=fast_run)
    assert res.returncode == 0, res.stderr[-3000:]
    assert planned_rules(res.stdout) == {
        "shard": 1,
        "predict": 2,
        "gather_predictions": 1,
        "embed": 2,
        "merge_caches": 1,
        "evaluate": 1,
        "compare": 1,
        "all": 1,
    }  # no `train`: the training data did not change
    rotate_records(fast_run / "splice" / "train.fa.gz")
    res = snakemake("-n", "--cores", "2", "--configfile", "config_fast.yaml", cwd=fast_run)
    assert planned_rules(res.stdout)["train"] == 1


@pytest.mark.slow
def test_full_tiny_run_two_datasets_cnn_lstm_and_unlabelled_inputs(tmp_path: Path) -> None:
    import yaml

    work = tmp_path / "work"
    shutil.copytree(FIXTURES, work)
    res = snakemake("--cores", "2", "--configfile", "config.yaml", cwd=work)
    assert res.returncode == 0, res.stderr[-5000:]
    check_run(work, yaml.safe_load((work / "config.yaml").read_text()))
    res = snakemake("--cores", "2", "--configfile", "config.yaml", "--report", "report.html", cwd=work)
    assert res.returncode == 0, res.stderr[-3000:]
    html = (work / "report.html").read_text(errors="replace")
    assert "cnn-lstm" in html and "amp" in html


def test_module_example_runs(tmp_path: Path) -> None:
    snakefile = REPO / "workflows" / "examples" / "module" / "Snakefile"
    res = snakemake("--cores", "2", cwd=tmp_path, snakefile=snakefile)
    assert res.returncode == 0, res.stderr[-5000:]
    # the module's local rules are local under their new names, without a warning
    assert "localrules directive specifies rules that are not present" not in res.stdout + res.stderr
    header, ids = table_ids(tmp_path / "results_module" / "predictions" / "splice_uci.kmer-linear.test.tsv")
    assert ids == record_ids(REPO / "data" / "splice_uci" / "test.fa.gz")
    assert header == ["id", "predicted", "prob_EI", "prob_IE", "prob_N"]
    # the example's own rule ran `bioseq info` on the module's model
    import bioseq

    model = bioseq.load(tmp_path / "results_module" / "models" / "splice_uci" / "kmer-linear.safetensors")
    summary = (tmp_path / "module_summary.txt").read_text()
    assert "kmer-linear" in summary and model.fingerprint in summary
    # the report's front page describes the module's run (not the importing workflow's config), without
    # a reStructuredText error, and shows the comparison table inline
    res = snakemake("--cores", "1", "--report", "report.html", cwd=tmp_path, snakefile=snakefile)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "ERROR/" not in res.stderr and "WARNING/" not in res.stderr, res.stderr[-3000:]
    html = (tmp_path / "report.html").read_text(errors="replace")
    assert "trained and evaluated 1 model configuration(s)" in html and "of 1 dataset(s)" in html
    assert "System Message" not in html
    assert_comparison_table(html, [("splice_uci", "kmer-linear")])


def test_more_shards_than_records(tmp_path: Path) -> None:
    import yaml

    work = tmp_path / "work"
    shutil.copytree(FIXTURES, work)
    cfg = {
        "shards": 4,  # amp/unlabelled.fa holds 3 records: one shard is empty
        "threads": 1,
        "embed": True,
        "datasets": {"amp": {"train": "amp/train.fa.gz", "predict": ["amp/unlabelled.fa"]}},
        "models": {"kmer-linear": {"arch": "kmer-linear", "kmer": 1}},
    }
    (work / "few.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake("--cores", "2", "--configfile", "few.yaml", cwd=work)
    assert res.returncode == 0, res.stderr[-3000:]
    _, ids = table_ids(work / "results" / "predictions" / "amp.kmer-linear.unlabelled.tsv")
    assert ids == record_ids(work / "amp" / "unlabelled.fa")
    shards = sorted((work / "results" / "shards" / "amp" / "unlabelled").glob("*.fa"))
    assert len(shards) == 4 and any(p.stat().st_size == 0 for p in shards), "the case under test: an empty shard"
    from bioseq.embed import EmbeddingCache

    with EmbeddingCache(work / "results" / "embeddings" / "amp.kmer-linear.h5") as cache:
        assert sorted(cache.ids) == sorted(ids), "the empty shard's zero-row cache merged with the others"


# ---- the workflow as package data, `bioseq workflow`, and module use ----------------------------------


def bioseq_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.run([sys.executable, "-m", "bioseq", *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_workflow_path_and_init_write_a_project_that_imports_the_installed_workflow(tmp_path: Path) -> None:
    import yaml

    res = bioseq_cli("workflow", "path")
    assert res.returncode == 0, res.stderr
    wf = Path(res.stdout.strip())
    assert wf == REPO / "bioseq" / "workflow" and (wf / "Snakefile").is_file()
    proj = tmp_path / "proj"
    res = bioseq_cli("workflow", "init", str(proj))
    assert res.returncode == 0, res.stderr
    assert (proj / "config" / "config.yaml").read_bytes() == (wf / "config" / "config.yaml").read_bytes()
    cfg = yaml.safe_load((proj / "config" / "config.yaml").read_text())
    for ds in cfg["datasets"].values():  # the example data came along
        assert all((proj / ds[key]).is_file() for key in ("train", "valid", "test"))
    snakefile = (proj / "Snakefile").read_text()
    assert "module bioseq:" in snakefile and "use rule * from bioseq as bioseq_*" in snakefile
    assert "bioseq.workflow.snakefile()" in snakefile and str(wf / "Snakefile") in snakefile
    # a second init refuses to overwrite, --force replaces
    again = bioseq_cli("workflow", "init", str(proj))
    assert again.returncode == 1 and "--force" in again.stderr
    assert bioseq_cli("workflow", "init", str(proj), "--force").returncode == 0
    # the project plans the whole workflow (renamed rules) and lints clean (every rule names its conda env)
    res = snakemake("-n", "--cores", "2", cwd=proj, snakefile=proj / "Snakefile")
    assert res.returncode == 0, res.stderr[-3000:]
    assert {"bioseq_train", "bioseq_predict", "bioseq_embed", "bioseq_evaluate", "bioseq_compare"} <= set(
        planned_rules(res.stdout)
    )
    res = snakemake("--lint", cwd=proj, snakefile=proj / "Snakefile")
    assert res.returncode == 0 and "good condition" in res.stdout + res.stderr, res.stdout[-3000:]


def test_the_wheel_ships_the_workflow(tmp_path: Path) -> None:
    import zipfile

    res = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (wheel,) = tmp_path.glob("bioseq-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wf = REPO / "bioseq" / "workflow"
    shipped = [p for p in wf.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    missing = [str(p.relative_to(REPO)) for p in shipped if p.relative_to(REPO).as_posix() not in names]
    assert not missing, missing
    for required in ("Snakefile", "rules/common.smk", "schemas/config.schema.yaml", "profiles/slurm/config.yaml",
                     "profiles/slurm/partitions.yaml", "profiles/local/config.yaml", "report/workflow.rst",
                     "envs/bioseq.yaml", "config/config.yaml"):
        assert f"bioseq/workflow/{required}" in names
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    requires = [line for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
                if line.startswith("Requires-Dist:")]
    assert any(r.lower().startswith("requires-dist: pygments") for r in requires)  # snakemake --report needs it


MODULE_SNAKEFILE = """
module bioseq:
    snakefile: {snakefile!r}
    config: config["bioseq"]

use rule * from bioseq as bioseq_*
"""


def test_module_renamed_rules_keep_their_resources_and_local_rules(tmp_path: Path) -> None:
    """Under the SLURM profile, a module's renamed rules get what the job needs: a GPU for the neural
    model's train/predict/embed with device cuda and none for kmer-linear, a train runtime of max_time + 15
    minutes; no warning about local rules that are not present (dry run: no cluster needed; that the local
    rules stay off the cluster is checked by .ci/slurm.sh on a real one)."""
    import yaml

    work = tmp_path / "work"
    shutil.copytree(FIXTURES, work)
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    cfg["device"] = "cuda"
    (work / "module.yaml").write_text(yaml.safe_dump({"bioseq": cfg}))
    (work / "Snakefile").write_text(MODULE_SNAKEFILE.format(snakefile=str(REPO / "bioseq" / "workflow" / "Snakefile")))
    res = snakemake("-n", "--profile", str(REPO / "workflows" / "profiles" / "slurm"), "--configfile", "module.yaml",
                    cwd=work, snakefile=work / "Snakefile")
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert "localrules directive specifies rules that are not present" not in out
    jobs = re.findall(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", out, flags=re.M)
    seen = set()
    for rule, body in jobs:
        wildcards = dict(re.findall(r"(\w+)=([^,\s]+)", re.search(r"wildcards: (.*)", body).group(1))) if (
            "wildcards:" in body) else {}
        resources = dict(re.findall(r"(\w+)=([^,\s]+)", re.search(r"resources: (.*)", body).group(1)))
        if rule in ("bioseq_train", "bioseq_predict", "bioseq_embed"):
            neural = wildcards["model"] == "cnn-lstm"
            assert resources.get("gpu") == ("1" if neural else "0"), (rule, wildcards, resources)
            seen.add((rule, neural))
        if rule == "bioseq_train" and wildcards["model"] == "cnn-lstm":
            assert resources["runtime"] == str(math.ceil(cfg["models"]["cnn-lstm"]["max_time"]) + 15)
    assert len(seen) == 6, seen
