# Config checks, output paths and helpers of the optional `explain:` section (rules/explain.smk,
# which includes this file). Like common.smk, nothing here computes results; a bad section is
# refused before any job starts, naming the key.

EXPLAIN = config.get("explain")
EXPLAIN_ENV = "../envs/explain.yaml"


def _check_explain():
    """The `explain` section names a dataset with a test input, a model trained on it, a method that
    model can use and an existing database; returns the resolved `db` path (None without one)."""
    check_section_model("explain")
    ds, model = EXPLAIN["dataset"], EXPLAIN["model"]
    if "test" not in config["datasets"][ds]:
        raise _config_error("explain.dataset", f"dataset '{ds}' has no `test` input to explain")
    method = EXPLAIN.get("method", "ism")
    if method != "ism" and not is_neural(model):
        raise _config_error("explain.method", f"'{method}' differentiates a neural net; model '{model}' "
                            "is kmer-linear: use ism")
    return _check_file("explain.db", EXPLAIN["db"]) if "db" in EXPLAIN else None


EXPLAIN_DB = _check_explain() if EXPLAIN else None


def explain_dir(dataset, model):
    return f"{OUT}/explain/{dataset}/{model}"


def explain_outputs():
    """The final files of the `explain` section (none without one): motifs, logos, tracks, matches."""
    if not EXPLAIN:
        return []
    d = explain_dir(EXPLAIN["dataset"], EXPLAIN["model"])
    files = [f"{d}/attributions.h5", f"{d}/tracks", f"{d}/motifs.meme", f"{d}/logos"]
    return files + ([f"{d}/motifs.matches.tsv"] if EXPLAIN_DB else [])


def _explain_report(path, caption, figure, patterns=None):
    """`report(...)` of an explain output under its dataset and model (directories: their PNG files)."""
    kwargs = {"patterns": patterns} if patterns else {}
    return report(
        path,
        caption=caption,
        category="{dataset}",
        subcategory="{model}",
        labels={"dataset": "{dataset}", "model": "{model}", "input": "test", "figure": figure},
        **kwargs,
    )
