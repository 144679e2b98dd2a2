"""The Snakemake workflow's config checks, job plan and profiles (dry runs only).

These tests need Snakemake but not the ``bioseq`` commands: a dry run only
parses the Snakefile, validates the config and plans jobs. A bad config must
fail before any job starts, with a message naming the offending key.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
FIXTURES = REPO / "tests" / "data" / "workflow"
DEFAULT_CONFIG = REPO / "workflows" / "config" / "config.yaml"
SCHEMA = REPO / "workflows" / "schemas" / "config.schema.yaml"
BIN = Path(sys.executable).parent


def snakemake(*args: str, cwd: Path, snakefile: Path = SNAKEFILE) -> subprocess.CompletedProcess:
    """Run the venv's snakemake in ``cwd`` with the venv's bin first on PATH."""
    exe = BIN / "snakemake"
    cmd = [str(exe) if exe.exists() else shutil.which("snakemake"), "-s", str(snakefile), *args]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def parse_jobs(output: str) -> list[dict]:
    """Job blocks of a dry run: ``{"rule", <field>: str, "resources": {name: str}}``."""
    jobs: list[dict] = []
    for line in output.splitlines():
        m = re.match(r"^(?:local)?rule (\S+):$", line)
        if m:
            jobs.append({"rule": m.group(1), "resources": {}})
            continue
        m = re.match(r"^    (\w+): (.*)$", line)
        if m and jobs:
            key, value = m.groups()
            if key == "resources":
                jobs[-1]["resources"] = dict(kv.split("=", 1) for kv in value.split(", "))
            else:
                jobs[-1][key] = value
    return jobs


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count} (without 'total')."""
    counts = {}
    table = output.split("Job stats:", 1)[1]
    for line in table.splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    counts.pop("total", None)
    return counts


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A copy of the tiny fixtures as working directory (relative config paths resolve here)."""
    work = tmp_path / "work"
    shutil.copytree(FIXTURES, work)
    return work


def write_config(workdir: Path, cfg: dict, name: str = "bad.yaml") -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def tiny_config() -> dict:
    return yaml.safe_load((FIXTURES / "config.yaml").read_text())


def test_default_config_plans_every_dataset_model_and_shard(tmp_path: Path) -> None:
    # No --configfile: the bundled config (2 datasets x 2 models, test inputs, 2 shards).
    res = snakemake("-n", "--cores", "2", "--config", f"basedir={REPO}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr + res.stdout
    counts = job_counts(res.stdout)
    assert counts == {
        "all": 1,
        "train": 4,
        "shard": 2,
        "predict": 8,
        "gather_predictions": 4,
        "embed": 8,
        "merge_caches": 4,
        "evaluate": 4,
        "compare": 1,
    }
    jobs = parse_jobs(res.stdout)
    preds = {j["output"] for j in jobs if j["rule"] == "gather_predictions"}
    # the default model is `arch: auto` (kmer-linear, cnn-lstm, transformer within 1.5 minutes)
    assert "results/predictions/splice_uci.auto.test.tsv" in preds
    train = [j for j in jobs if j["rule"] == "train" and "auto" in j["wildcards"]]
    assert len(train) == 2
    # runtime = the --max-time budget (1.5 min, rounded up) + 15 min of margin
    assert all(j["resources"]["runtime"] == "17" for j in train)
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_tiny_config_plan_and_input_names(workdir: Path) -> None:
    res = snakemake("-n", "--cores", "2", "--configfile", "config.yaml", cwd=workdir)
    assert res.returncode == 0, res.stderr + res.stdout
    counts = job_counts(res.stdout)
    # 2 datasets x 2 inputs (test + 1 unlabelled) sharded in 2, x 2 models
    assert counts["shard"] == 4
    assert counts["predict"] == 16 and counts["embed"] == 16
    assert counts["gather_predictions"] == 8 and counts["merge_caches"] == 4
    assert counts["evaluate"] == 4  # labelled `test` inputs only
    outputs = " ".join(j.get("output", "") for j in parse_jobs(res.stdout))
    # a `predict` list entry is named after its file, a mapping entry by its key
    assert "results/predictions/amp.cnn-lstm.unlabelled.tsv" in outputs
    assert "results/predictions/splice.kmer-linear.unlabelled.tsv" in outputs
    # the bundled datasets are NOT merged into a user's --configfile
    assert "splice_uci" not in res.stdout


def test_shard_count_and_order_of_gathered_inputs(workdir: Path) -> None:
    res = snakemake("-n", "--cores", "2", "--configfile", "config_fast.yaml", "--config", "shards=3", cwd=workdir)
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = parse_jobs(res.stdout)
    gather = [j for j in jobs if j["rule"] == "gather_predictions"]
    assert len(gather) == 1
    assert gather[0]["input"].split(", ") == [
        f"results/predictions/shards/splice.kmer-linear.test/{i}-of-3.tsv" for i in (1, 2, 3)
    ]
    merge = [j for j in jobs if j["rule"] == "merge_caches"][0]
    assert len(merge["input"].split(", ")) == 3


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda c: c["datasets"]["splice"].update(train="splice/missing.fa"), "datasets.splice.train"),
        (lambda c: c["datasets"]["amp"].update(test="amp/nope.fa"), "datasets.amp.test"),
        (lambda c: c["datasets"]["splice"]["predict"].update(other="x.fa"), "datasets.splice.predict.other"),
        (lambda c: c["datasets"]["amp"].update(predict=["amp/none.fa"]), "datasets.amp.predict[0]"),
        (lambda c: c["models"]["cnn-lstm"].update(arch="resnet"), "models.cnn-lstm.arch"),
        (lambda c: c["datasets"]["amp"].update(models=["kmer-linear", "bert"]), "datasets.amp.models"),
        (
            lambda c: c["datasets"]["amp"].update(predict=["amp/test.fa"]),
            "datasets.amp.predict[0]",  # named `test` like the labelled test input
        ),
    ],
    ids=[
        "missing-train",
        "missing-test",
        "missing-predict",
        "missing-predict-list",
        "unknown-arch",
        "unknown-model",
        "duplicate-input-name",
    ],
)
def test_bad_config_fails_before_any_job_naming_the_key(workdir: Path, mutate, key: str) -> None:
    cfg = tiny_config()
    mutate(cfg)
    path = write_config(workdir, cfg)
    # a real run (not a dry run): nothing may start
    res = snakemake("--cores", "1", "--configfile", str(path), cwd=workdir)
    assert res.returncode != 0
    assert f"'{key}'" in res.stderr + res.stdout, res.stderr
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()
    assert "rule train" not in res.stdout + res.stderr


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda c: c.update(shards="two"), "shards"),
        (lambda c: c.update(shard=2), "shard"),  # misspelt key
        (lambda c: c["models"]["kmer-linear"].update(kmer=2.5), "kmer"),
        (lambda c: c["models"]["cnn-lstm"].update(epoch=3), "epoch"),
        (lambda c: c.update(cache_dtype="int8"), "cache_dtype"),
        (lambda c: c["datasets"]["splice"].update(alphabet="DNA5"), "alphabet"),
        (lambda c: c["datasets"]["splice"].pop("train"), "train"),
    ],
    ids=[
        "wrong-type",
        "unknown-key",
        "non-integer-k",
        "unknown-model-key",
        "bad-enum",
        "bad-alphabet",
        "missing-required",
    ],
)
def test_schema_rejects_wrong_keys_and_types(mutate, needle: str) -> None:
    """The schema itself, in process (one Snakemake start per case cost ~12 s); the next test
    pins that the workflow applies it before any job."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    cfg = tiny_config()
    mutate(cfg)
    with pytest.raises(WorkflowError) as err:
        validate(cfg, str(SCHEMA))
    assert "Error validating config file" in str(err.value) and needle in str(err.value)


def test_a_schema_error_stops_the_workflow_before_any_job(workdir: Path) -> None:
    cfg = tiny_config()
    cfg["shard"] = 2  # misspelt key
    path = write_config(workdir, cfg)
    res = snakemake("--cores", "1", "--configfile", str(path), cwd=workdir)
    assert res.returncode != 0
    err = res.stderr + res.stdout
    assert "Error validating config file" in err and "shard" in err
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()


def test_schema_accepts_bundled_and_tiny_configs_and_sets_defaults() -> None:
    from snakemake.utils import validate

    for path in (DEFAULT_CONFIG, FIXTURES / "config.yaml", FIXTURES / "config_fast.yaml"):
        cfg = yaml.safe_load(path.read_text())
        validate(cfg, str(SCHEMA))
        assert cfg["outdir"] == "results" and cfg["basedir"] == "."
    minimal = {"datasets": {"d": {"train": "t.fa"}}, "models": {"m": {"arch": "kmer-linear"}}}
    validate(minimal, str(SCHEMA))
    assert minimal["shards"] == 2 and minimal["embed"] is True and minimal["extra_archs"] == []


def test_plugin_arch_is_accepted_through_extra_archs(workdir: Path) -> None:
    cfg = tiny_config()
    cfg["models"] = {"mine": {"arch": "my-plugin-net", "hparams": {"depth": 3, "name": "it's"}}}
    cfg["extra_archs"] = ["my-plugin-net"]
    path = write_config(workdir, cfg, "plugin.yaml")
    res = snakemake("-n", "-p", "--cores", "1", "--configfile", str(path), cwd=workdir)
    assert res.returncode == 0, res.stderr + res.stdout
    # hyper-parameters reach `bioseq train` as one shell-quoted JSON argument
    assert "--arch my-plugin-net" in res.stdout
    assert """--hparams '{"depth": 3, "name": "it'"'"'s"}'""" in res.stdout


def test_slurm_profile_dry_run_declares_resources(tmp_path: Path) -> None:
    """The rules declare what each job needs (the profile keys nothing by rule name): a GPU only for the
    jobs that run a neural model with device cuda, never for kmer-linear; train runtime from max_time."""
    profile = REPO / "workflows" / "profiles" / "slurm"
    assert "set-resources" not in (profile / "config.yaml").read_text()
    for device in ("auto", "cuda"):
        res = snakemake("-n", "--profile", str(profile), "--config", f"basedir={REPO}", f"device={device}",
                        cwd=tmp_path)
        assert res.returncode == 0, res.stderr + res.stdout
        jobs = parse_jobs(res.stdout)
        by_rule: dict[str, list[dict]] = {}
        for job in jobs:
            by_rule.setdefault(job["rule"], []).append(job)
        assert len(by_rule["train"]) == 4 and len(by_rule["predict"]) == 8
        for job in by_rule["train"] + by_rule["predict"] + by_rule["embed"]:
            res_, neural = job["resources"], "model=auto" in job["wildcards"]
            assert res_["gpu"] == ("1" if neural and device == "cuda" else "0"), job
            assert "gres" not in res_ and "slurm_partition" not in res_  # partitions.yaml chooses
        for job in by_rule["train"]:
            res_ = job["resources"]
            assert int(res_["mem_mb"]) == 8000
            # auto: max_time 1.5 min, rounded up, + 15; kmer-linear (no max_time): 1 hour
            assert res_["runtime"] == ("17" if "model=auto" in job["wildcards"] else "60")
        for job in by_rule["evaluate"]:
            assert "gpu" not in job["resources"] and int(job["resources"]["mem_mb"]) == 2000
        for job in by_rule["shard"] + by_rule["gather_predictions"] + by_rule["merge_caches"]:
            assert int(job["resources"]["mem_mb"]) <= 2000 and "gpu" not in job["resources"]
        # every job logs to logs/
        assert all(j["log"].startswith("logs/") for j in jobs if j["rule"] != "all")
    slurm = (profile / "config.yaml").read_text()
    # the executor plugin refuses --gres in slurm_extra: the profile must not offer it
    assert "slurm_extra: \"'--gres" not in slurm and (profile / "partitions.yaml").is_file()


def test_local_profile_dry_run(tmp_path: Path) -> None:
    profile = REPO / "workflows" / "profiles" / "local"
    res = snakemake("-n", "--profile", str(profile), "--config", f"basedir={REPO}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr + res.stdout
    assert "bioseq train" in res.stdout  # printshellcmds
    assert job_counts(res.stdout)["train"] == 4


def test_module_example_dry_run_from_another_directory(tmp_path: Path) -> None:
    snakefile = REPO / "workflows" / "examples" / "module" / "Snakefile"
    res = snakemake("-n", "--cores", "1", cwd=tmp_path, snakefile=snakefile)
    assert res.returncode == 0, res.stderr + res.stdout
    counts = job_counts(res.stdout)
    assert counts["bioseq_train"] == 1 and counts["bioseq_predict"] == 2 and counts["summary"] == 1
    train = next(j for j in parse_jobs(res.stdout) if j["rule"] == "bioseq_train")
    # the example's relative data paths resolve against the repository, whatever the cwd
    assert train["input"].split(", ")[0] == str(REPO / "data" / "splice_uci" / "train.fa.gz")


def test_module_with_bad_config_names_key(tmp_path: Path) -> None:
    example = REPO / "workflows" / "examples" / "module"
    cfg = yaml.safe_load((example / "config.yaml").read_text())
    bad = copy.deepcopy(cfg)
    bad["bioseq"]["models"]["kmer-linear"]["arch"] = "no-such-arch"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    res = snakemake("-n", "--cores", "1", "--configfile", str(path), cwd=tmp_path, snakefile=example / "Snakefile")
    assert res.returncode != 0
    assert "'models.kmer-linear.arch'" in res.stderr + res.stdout


def test_auto_model_reaches_train_with_candidates_and_per_candidate_hparams(workdir: Path) -> None:
    cfg = yaml.safe_load((FIXTURES / "config_fast.yaml").read_text())
    cfg["models"] = {"best": {"arch": "auto", "max_time": 0.5, "candidates": ["kmer-linear", "cnn-lstm"],
                              "seeds_per_net": 2, "hparams": {"cnn-lstm": {"rnn_hidden": 8}}}}
    path = write_config(workdir, cfg, "auto.yaml")
    res = snakemake("-n", "-p", "--cores", "1", "--configfile", str(path), cwd=workdir)
    assert res.returncode == 0, res.stderr + res.stdout
    train = next(line for line in res.stdout.splitlines() if "bioseq train" in line)
    assert "--arch auto" in train and "--candidates kmer-linear,cnn-lstm" in train
    assert "--seeds-per-net 2" in train
    assert '--hparams \'{"cnn-lstm": {"rnn_hidden": 8}}\'' in train


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ({"arch": "auto", "kmer": 3}, "models.m.kmer"),
        ({"arch": "auto", "candidates": ["kmer-linear", "resnet"]}, "models.m.candidates[1]"),
        ({"arch": "cnn-lstm", "candidates": ["kmer-linear"]}, "models.m.candidates"),
        ({"arch": "cnn-lstm", "seeds_per_net": 2}, "models.m.seeds_per_net"),
    ],
    ids=["kmer-with-auto", "unknown-candidate", "candidates-without-auto", "seeds-without-auto"],
)
def test_bad_auto_config_fails_before_any_job_naming_the_key(workdir: Path, model: dict, key: str) -> None:
    cfg = yaml.safe_load((FIXTURES / "config_fast.yaml").read_text())
    cfg["models"] = {"m": model}
    path = write_config(workdir, cfg, "auto.yaml")
    res = snakemake("-n", "--cores", "1", "--configfile", str(path), cwd=workdir)
    assert res.returncode != 0
    assert f"'{key}'" in res.stderr + res.stdout
    assert not (workdir / "results").exists()


def test_label_table_reaches_train_and_evaluate(workdir: Path) -> None:
    (workdir / "splice_labels.tsv").write_text("id\tlabel\n")
    cfg = yaml.safe_load((FIXTURES / "config_fast.yaml").read_text())
    cfg["datasets"]["splice"]["labels"] = "splice_labels.tsv"
    path = write_config(workdir, cfg, "labels.yaml")
    res = snakemake("-n", "-p", "--cores", "1", "--configfile", str(path), cwd=workdir)
    assert res.returncode == 0, res.stderr + res.stdout
    commands = [line.split("Shell command: ", 1)[-1] for line in res.stdout.splitlines() if "bioseq " in line]
    train = next(c for c in commands if c.startswith("bioseq train"))
    evaluate = next(c for c in commands if c.startswith("bioseq evaluate"))
    assert "--labels splice_labels.tsv" in train and "--labels splice_labels.tsv" in evaluate
    assert "--history results/models/splice/kmer-linear.history.jsonl" in evaluate
    # the label table is an input: changing it retrains
    jobs = parse_jobs(res.stdout)
    assert "splice_labels.tsv" in next(j for j in jobs if j["rule"] == "train")["input"]
