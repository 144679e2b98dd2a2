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
    resources:
        mem_mb=8000,
        runtime=train_runtime,
    shell:
        "bioseq train {input.train:q} {params.args} --threads {threads}"
        " --device {params.device} --log {output.history:q} -o {output.model:q} > {log:q} 2>&1"
