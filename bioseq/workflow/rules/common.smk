# Configuration checks, output paths and input functions shared by all rules.
#
# Nothing here computes results: every rule calls the `bioseq` CLI. This file
# only turns the validated config into file names, and refuses a config with a
# missing file or an unknown architecture before any job starts, naming the key.

import json
import math
import os
import re
import shlex
from importlib.metadata import entry_points
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

if "datasets" not in config:
    raise WorkflowError(
        "the bioseq workflow has no config: give --configfile (see `bioseq workflow init DIR` for a starter), "
        "or pass `config:` when importing it as a module"
    )
validate(config, schema="../schemas/config.schema.yaml")

# Built-in architectures; plugins add theirs through the `bioseq.models` entry points.
BUILTIN_ARCHS = ("cnn-lstm", "transformer", "dilated-cnn", "kmer-linear")
# Architectures fitted once in closed form (no epochs, no GPU): everything else is a neural net.
FITTED_ARCHS = ("kmer-linear",)
# `arch: auto` is a training mode (`bioseq train --arch auto`), not a registry architecture.
AUTO = "auto"
# The report category of the comparison table (a dataset name cannot hold a space).
COMPARISON_CATEGORY = "Model comparison"
# The plots `bioseq evaluate --plots DIR` writes (one caption each in workflows/report/).
PLOTS = ("learning_curves", "confusion_matrix", "roc", "pr")

OUT = config["outdir"].rstrip("/")
# The software environment of every rule with `--software-deployment-method conda`
# (relative to the rule files).
CONDA_ENV = "../envs/bioseq.yaml"


# Each prediction input is split into this many shards (`--set-scatter split=N` overrides).
scattergather:
    split=config["shards"],


BASEDIR = Path(config["basedir"])


wildcard_constraints:
    dataset=r"[A-Za-z0-9_-]+",
    model=r"[A-Za-z0-9_-]+",
    input=r"[A-Za-z0-9_-]+",
    scatteritem=r"\d+-of-\d+",


def out(path):
    """A path under the output directory (`outdir`)."""
    return os.path.join(OUT, path)


def _config_error(key, message):
    return WorkflowError(f"bioseq workflow config key '{key}': {message}")


def _resolve(path):
    """A config path as used by the jobs: relative paths are taken against `basedir`."""
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else BASEDIR / p)


def _check_file(key, path):
    resolved = _resolve(path)
    if not os.path.isfile(resolved):
        hint = "" if BASEDIR == Path(".") else f" (relative paths are resolved against basedir '{BASEDIR}')"
        raise _config_error(key, f"file not found: '{resolved}'{hint}")
    return resolved


def _known_archs():
    found = {ep.name for ep in entry_points(group="bioseq.models")}
    return sorted(set(BUILTIN_ARCHS) | found | set(config["extra_archs"]))


def _check_auto(name, model, archs):
    """`candidates` and `seeds_per_net` only with `arch: auto`, candidates naming known
    architectures; no `kmer` with auto."""
    if model["arch"] != AUTO:
        for key in ("candidates", "seeds_per_net"):
            if key in model:
                raise _config_error(f"models.{name}.{key}", f"only for arch '{AUTO}'")
        return
    if "kmer" in model:
        raise _config_error(f"models.{name}.kmer", f"not with arch '{AUTO}': each candidate uses its own tokenizer")
    for i, arch in enumerate(model.get("candidates", [])):
        if arch not in archs:
            raise _config_error(
                f"models.{name}.candidates[{i}]", f"unknown architecture '{arch}'; known: {', '.join(archs)}"
            )


def _input_name(path):
    """`data/x/test.fa.gz` -> `test`: a prediction input named after its file."""
    return Path(path).name.split(".")[0]


def _check_config():
    """Check what the schema cannot: files exist, names refer to something, archs are known."""
    archs = _known_archs()
    for name, model in config["models"].items():
        if model["arch"] not in archs and model["arch"] != AUTO:
            raise _config_error(
                f"models.{name}.arch",
                f"unknown architecture '{model['arch']}'; known: {', '.join(archs)}, or {AUTO} "
                "(a plugin's architecture is known once its package is installed, or list it in extra_archs)",
            )
        _check_auto(name, model, archs)
    inputs = {}
    for ds, spec in config["datasets"].items():
        for key in ("train", "valid", "test", "labels"):
            if key in spec:
                _check_file(f"datasets.{ds}.{key}", spec[key])
        for name in spec.get("models", []):
            if name not in config["models"]:
                raise _config_error(
                    f"datasets.{ds}.models",
                    f"unknown model '{name}'; defined under models: {', '.join(config['models'])}",
                )
        named = {"test": spec["test"]} if "test" in spec else {}
        predict = spec.get("predict", {})
        items = predict.items() if isinstance(predict, dict) else [(_input_name(p), p) for p in predict]
        for i, (name, path) in enumerate(items):
            key = f"datasets.{ds}.predict" + (f".{name}" if isinstance(predict, dict) else f"[{i}]")
            if not isinstance(predict, dict) and not re.fullmatch(r"[A-Za-z0-9_-]+", name):
                raise _config_error(key, f"cannot name the input '{path}' after its file; use a mapping name: path")
            if name in named:
                raise _config_error(key, f"two prediction inputs are named '{name}'; use a mapping name: path")
            _check_file(key, path)
            named[name] = path
        inputs[ds] = {name: _resolve(path) for name, path in named.items()}
    return inputs


# dataset -> {input name: resolved path}, in config order, `test` first.
PREDICT_INPUTS = _check_config()


def check_section_model(section):
    """An optional section's (`explain`, `scan`, `variants`) `dataset` and `model` name a model this
    workflow trains."""
    spec = config[section]
    ds, model = spec["dataset"], spec["model"]
    if ds not in config["datasets"]:
        raise _config_error(f"{section}.dataset", f"unknown dataset '{ds}'; defined: {', '.join(config['datasets'])}")
    if model not in dataset_models(ds):
        raise _config_error(
            f"{section}.model", f"model '{model}' is not trained on dataset '{ds}' ({', '.join(dataset_models(ds))})"
        )


def dataset_models(dataset):
    return config["datasets"][dataset].get("models", list(config["models"]))


def labelled_inputs(dataset):
    """The inputs evaluated against their labels: the `test` file, when given."""
    return ["test"] if "test" in config["datasets"][dataset] else []


def embeds(model):
    return config["models"][model].get("embed", config["embed"])


def model_path(dataset, model):
    return f"{OUT}/models/{dataset}/{model}.safetensors"


def predictions_path(dataset, model, input):
    return f"{OUT}/predictions/{dataset}.{model}.{input}.tsv"


def evaluation_dir(dataset, model, input):
    return f"{OUT}/evaluation/{dataset}/{model}/{input}"


def cache_path(dataset, model):
    return f"{OUT}/embeddings/{dataset}.{model}.h5"


def comparison_path():
    return f"{OUT}/evaluation/model_comparison.tsv"


def comparison_runs():
    """`(dataset/model/input, metrics.json)` of every evaluation, in config order."""
    return [
        (f"{ds}/{model}/{name}", f"{evaluation_dir(ds, model, name)}/metrics.json")
        for ds in config["datasets"]
        for model in dataset_models(ds)
        for name in labelled_inputs(ds)
    ]


def all_outputs():
    """Every final file: models, prediction tables, metrics, plots, the comparison table and merged caches."""
    files = [comparison_path()] if comparison_runs() else []
    for ds in config["datasets"]:
        for model in dataset_models(ds):
            files.append(model_path(ds, model))
            files += [predictions_path(ds, model, name) for name in PREDICT_INPUTS[ds]]
            for name in labelled_inputs(ds):
                d = evaluation_dir(ds, model, name)
                files += [f"{d}/metrics.json", f"{d}/metrics.tsv"] + [f"{d}/plots/{p}.png" for p in PLOTS]
            if embeds(model) and PREDICT_INPUTS[ds]:
                files.append(cache_path(ds, model))
    return files


# ---- input functions -------------------------------------------------------


def train_inputs(wildcards):
    spec = config["datasets"][wildcards.dataset]
    files = {"train": _resolve(spec["train"])}
    for key in ("valid", "labels"):
        if key in spec:
            files[key] = _resolve(spec[key])
    return files


def train_args(wildcards, input):
    """`bioseq train` options from the model's and the dataset's config."""
    spec = config["datasets"][wildcards.dataset]
    model = config["models"][wildcards.model]
    args = ["--arch", model["arch"], "--seed", config["seed"]]
    if "valid" in spec:
        args += ["--valid", input.valid]
    if "labels" in spec:
        args += ["--labels", input.labels]
    if "alphabet" in spec:
        args += ["--alphabet", spec["alphabet"]]
    for key, option in (("kmer", "--kmer"), ("epochs", "--epochs"), ("max_time", "--max-time"),
                        ("batch_size", "--batch-size"), ("seeds_per_net", "--seeds-per-net")):
        if key in model:
            args += [option, model[key]]
    if "candidates" in model:
        args += ["--candidates", ",".join(model["candidates"])]
    if "hparams" in model:
        args += ["--hparams", json.dumps(model["hparams"], sort_keys=True)]
    return " ".join(shlex.quote(str(a)) for a in args)


def is_neural(model_name):
    """Whether a model runs a neural net: any architecture but kmer-linear; `auto` when one of its
    candidates (default kmer-linear, cnn-lstm, transformer) is one."""
    model = config["models"][model_name]
    archs = model.get("candidates", ["cnn-lstm"]) if model["arch"] == AUTO else [model["arch"]]
    return any(arch not in FITTED_ARCHS for arch in archs)


def job_gpus(wildcards):
    """GPUs a train/predict/embed job asks the scheduler for (the `gpu` resource): one when it runs a
    neural model and `device` is `cuda`; none for kmer-linear or with `device: cpu` or `auto` (auto:
    the job uses a GPU when its node has one, without asking for it)."""
    return 1 if config["device"] == "cuda" and is_neural(wildcards.model) else 0


def train_runtime(wildcards):
    """Job runtime in minutes: the model's `max_time` plus 15 minutes for loading, scoring and saving;
    1 hour for a closed-form fit (kmer-linear), 24 hours for a neural net without `max_time`."""
    max_time = config["models"][wildcards.model].get("max_time")
    if max_time is not None:
        return math.ceil(max_time) + 15
    return 24 * 60 if is_neural(wildcards.model) else 60


def predict_input(wildcards):
    try:
        return PREDICT_INPUTS[wildcards.dataset][wildcards.input]
    except KeyError:
        raise WorkflowError(f"no prediction input '{wildcards.input}' in datasets.{wildcards.dataset}")


def shard_caches(wildcards):
    """Every per-shard cache of a dataset and model: all its inputs, all their shards."""
    return [
        f"{OUT}/embeddings/shards/{wildcards.dataset}.{wildcards.model}/{name}.{item}.h5"
        for name in PREDICT_INPUTS[wildcards.dataset]
        for item in gather.split("{scatteritem}")
    ]


def truth_inputs(wildcards):
    spec = config["datasets"][wildcards.dataset]
    files = {"truth": _resolve(spec[wildcards.input])}
    if "labels" in spec:
        files["labels"] = _resolve(spec["labels"])
    return files
