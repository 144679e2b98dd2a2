# Interpretation, when the config has an `explain:` section (schemas/config.schema.yaml):
#
#   explain:
#     dataset: splice_uci    # a dataset with a `test` input
#     model: auto            # a model trained on it
#     n: 200                 # test sequences explained: the most confident predictions
#     method: ism            # ism | saliency | ig | deepliftshap
#     db: motifs.meme        # optional: TomTom matches of the motifs in this MEME database
#
# Rule explain attributes the `n` most confidently predicted test sequences (shared evenly
# among the predicted classes: `bioseq explain --top`) and draws the attribution tracks of the
# `tracks` most confident of each class; rule motifs clusters the attributions into motifs
# (TF-MoDISco), draws their logos and, with `db`, matches them (TomTom). The report shows the
# tracks, the logos and the matches under the dataset (category) and model (subcategory).
# The jobs need `bioseq[explain]` (envs/explain.yaml with --sdm conda).

include: "explain_common.smk"


rule explain:
    input:
        model=out("models/{dataset}/{model}.safetensors"),
        test=lambda wildcards: PREDICT_INPUTS[wildcards.dataset]["test"],
    output:
        h5=out("explain/{dataset}/{model}/attributions.h5"),
        tracks=_explain_report(
            directory(out("explain/{dataset}/{model}/tracks")),
            "../report/attribution_tracks.rst",
            "attribution tracks {label}",
            patterns=["{label}.png"],
        ),
    log:
        "logs/explain/{dataset}.{model}.log",
    params:
        method=EXPLAIN.get("method", "ism") if EXPLAIN else "ism",
        n=EXPLAIN.get("n", 200) if EXPLAIN else 200,
        tracks=EXPLAIN.get("tracks", 3) if EXPLAIN else 3,
        batch_size=config["batch_size"],
        device=config["device"],
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=job_gpus,
    conda:
        EXPLAIN_ENV
    shell:
        "bioseq explain {input.model:q} {input.test:q} -o {output.h5:q} --method {params.method}"
        " --top {params.n} --plots {output.tracks:q} --plots-per-class {params.tracks}"
        " --batch-size {params.batch_size} --device {params.device} --threads {threads} > {log:q} 2>&1"


rule motifs:
    input:
        h5=out("explain/{dataset}/{model}/attributions.h5"),
        **({"db": EXPLAIN_DB} if EXPLAIN_DB else {}),
    output:
        meme=_explain_report(out("explain/{dataset}/{model}/motifs.meme"), "../report/motifs.rst", "motifs"),
        logos=_explain_report(
            directory(out("explain/{dataset}/{model}/logos")),
            "../report/motif_logos.rst",
            "motif logo {motif}",
            patterns=["{motif}.png"],
        ),
        **(
            {
                "matches": _explain_report(
                    out("explain/{dataset}/{model}/motifs.matches.tsv"), "../report/motif_matches.rst", "motif matches"
                )
            }
            if EXPLAIN_DB
            else {}
        ),
    log:
        "logs/motifs/{dataset}.{model}.log",
    params:
        min_seqlets=EXPLAIN.get("min_seqlets", 20) if EXPLAIN else 20,
        db=lambda wildcards, input, output: (
            f"--db {shlex.quote(input.db)} --matches {shlex.quote(output.matches)}" if EXPLAIN_DB else ""
        ),
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        EXPLAIN_ENV
    shell:
        "bioseq motifs {input.h5:q} -o {output.meme:q} --logos {output.logos:q} --min-seqlets {params.min_seqlets}"
        " {params.db} > {log:q} 2>&1"
