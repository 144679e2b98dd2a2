# Predict every input in shards: split it into `shards` contiguous FASTA shards
# (scattergather), predict each shard as its own job, and gather the tables
# back into one, in input order. The shards are kept (an uncompressed copy of
# each input), so that a changed input re-runs only its own jobs: temporary
# shards would have to be re-made, and re-predicted, for every other input of
# the dataset whose embeddings are merged with it. The per-shard tables are
# temporary. An input with fewer records than `shards` gives empty shards:
# `--allow-empty` turns them into header-only tables (an empty user input given to
# `bioseq predict` directly stays an error).


rule shard:
    input:
        predict_input,
    output:
        scatter.split(out("shards/{{dataset}}/{{input}}/{scatteritem}.fa")),
    log:
        "logs/shard/{dataset}.{input}.log",
    localrule: True
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "bioseq shard {input:q} -o {output:q} > {log:q} 2>&1"


rule predict:
    input:
        model=out("models/{dataset}/{model}.safetensors"),
        shard=out("shards/{dataset}/{input}/{scatteritem}.fa"),
    output:
        temp(out("predictions/shards/{dataset}.{model}.{input}/{scatteritem}.tsv")),
    log:
        "logs/predict/{dataset}.{model}.{input}.{scatteritem}.log",
    params:
        batch_size=config["batch_size"],
        device=config["device"],
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=job_gpus,
    conda:
        CONDA_ENV
    shell:
        "bioseq predict {input.model:q} {input.shard:q} -o {output:q}"
        " --batch-size {params.batch_size} --device {params.device} --threads {threads} --allow-empty"
        " > {log:q} 2>&1"


rule gather_predictions:
    input:
        gather.split(out("predictions/shards/{{dataset}}.{{model}}.{{input}}/{scatteritem}.tsv")),
    output:
        out("predictions/{dataset}.{model}.{input}.tsv"),
    log:
        "logs/gather_predictions/{dataset}.{model}.{input}.log",
    localrule: True
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "bioseq gather {input:q} -o {output:q} > {log:q} 2>&1"
