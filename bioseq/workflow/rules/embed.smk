# Embed every shard of every prediction input into its own HDF5 cache (no two
# jobs ever write one file), then merge the shard caches into one
# content-addressed cache per dataset and model with `bioseq cache merge`.
# The shard caches are temporary: when one input changes, every shard of the
# dataset is embedded again for the merge (predictions of the others are not).
# `--allow-empty`: an empty shard (fewer records than `shards`) gives a cache
# with zero rows, which the merge accepts.


rule embed:
    input:
        model=out("models/{dataset}/{model}.safetensors"),
        shard=out("shards/{dataset}/{input}/{scatteritem}.fa"),
    output:
        temp(out("embeddings/shards/{dataset}.{model}/{input}.{scatteritem}.h5")),
    log:
        "logs/embed/{dataset}.{model}.{input}.{scatteritem}.log",
    params:
        dtype=config["cache_dtype"],
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
        "bioseq embed {input.model:q} {input.shard:q} --cache {output:q} --device {params.device}"
        " --dtype {params.dtype} --batch-size {params.batch_size} --threads {threads} --no-progress --allow-empty"
        " > {log:q} 2>&1"


rule merge_caches:
    input:
        shard_caches,
    output:
        out("embeddings/{dataset}.{model}.h5"),
    log:
        "logs/merge_caches/{dataset}.{model}.log",
    localrule: True
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        CONDA_ENV
    shell:
        "bioseq cache merge {output:q} {input:q} > {log:q} 2>&1"
