# Train one model per dataset x model: a self-describing safetensors bundle
# plus its per-epoch training history (JSON lines, for the learning curves).


rule train:
    input:
        unpack(train_inputs),
    output:
        model=out("models/{dataset}/{model}.safetensors"),
        history=out("models/{dataset}/{model}.history.jsonl"),
    log:
        "logs/train/{dataset}.{model}.log",
    params:
        args=train_args,
        device=config["device"],
    threads: config["threads"]
    # Resources follow the job (its model's architecture, max_time and the
    # config's device), so they hold under any rule name a module gives them.
    resources:
        mem_mb=8000,
        runtime=train_runtime,
        gpu=job_gpus,
    conda:
        CONDA_ENV
    shell:
        "bioseq train {input.train:q} {params.args} --threads {threads}"
        " --device {params.device} --log {output.history:q} -o {output.model:q} > {log:q} 2>&1"
