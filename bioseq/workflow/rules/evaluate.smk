# Evaluate the gathered predictions of every labelled input (`test`): metrics
# (JSON, plus a tidy metric/label/value TSV for download) and the plots of the
# report (confusion matrix, ROC, PR, and the learning curves from the training
# history). Then one table comparing every model on every dataset, which the
# report's front page shows inline (report/workflow.rst).


rule evaluate:
    input:
        unpack(truth_inputs),
        predictions=out("predictions/{dataset}.{model}.{input}.tsv"),
        history=out("models/{dataset}/{model}.history.jsonl"),
    output:
        metrics=out("evaluation/{dataset}/{model}/{input}/metrics.json"),
        table=report(
            out("evaluation/{dataset}/{model}/{input}/metrics.tsv"),
            caption="../report/metrics.rst",
            category="{dataset}",
            subcategory="{model}",
            labels={"dataset": "{dataset}", "model": "{model}", "input": "{input}", "figure": "metrics"},
        ),
        **{
            plot: report(
                out(f"evaluation/{{dataset}}/{{model}}/{{input}}/plots/{plot}.png"),
                caption=f"../report/{plot}.rst",
                category="{dataset}",
                subcategory="{model}",
                labels={"dataset": "{dataset}", "model": "{model}", "input": "{input}", "figure": plot},
            )
            for plot in PLOTS
        },
    log:
        "logs/evaluate/{dataset}.{model}.{input}.log",
    params:
        plots=lambda wildcards, output: os.path.dirname(output.confusion_matrix),
        labels=lambda wildcards, input: f"--labels {shlex.quote(input.labels)}" if "labels" in input.keys() else "",
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "bioseq evaluate {input.predictions:q} --truth {input.truth:q} {params.labels}"
        " --history {input.history:q} --plots {params.plots:q} --tsv {output.table:q}"
        " -o {output.metrics:q} > {log:q} 2>&1"


rule compare:
    input:
        [metrics for _, metrics in comparison_runs()],
    output:
        report(
            comparison_path(),
            caption="../report/model_comparison.rst",
            category=COMPARISON_CATEGORY,
            labels={"figure": "model comparison"},
        ),
    log:
        "logs/compare/model_comparison.log",
    params:
        runs=lambda wildcards: " ".join(shlex.quote(f"{name}={path}") for name, path in comparison_runs()),
    localrule: True
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "bioseq compare {params.runs} --name-columns dataset,model,input -o {output:q} > {log:q} 2>&1"
