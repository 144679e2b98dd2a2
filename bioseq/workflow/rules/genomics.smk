# Genome scans and variant effects: the optional `scan:` and `variants:` sections.
#
# Both use a model this workflow trains (`dataset` + `model`) on a reference
# genome. `bioseq chrom-sizes` (a checkpoint) indexes the genome once, before
# any shard reads it, and lists its chromosomes in .fai order; they are cut
# into contiguous groups of at least `shard_mb` megabases (a chromosome is
# never split), one job per group (`bioseq scan --chrom ...`,
# `bioseq variant-effect --chrom ...`), and `bioseq gather` concatenates the
# parts in genome order: the gathered track, peaks and effects table are those
# of one unsharded run (for a VCF sorted in the genome's order). Per-part
# files are temporary. The report shows the track with its peaks, and the
# variants with the largest effects (table and plot).

include: "genomics_common.smk"


# ---- rules ------------------------------------------------------------------


checkpoint chrom_sizes:
    input:
        lambda wildcards: GENOMES[wildcards.genome],
    output:
        out("genomes/{genome}.chrom.sizes"),
    log:
        "logs/chrom_sizes/{genome}.log",
    localrule: True
    resources:
        mem_mb=1000,
        runtime=60,
    conda:
        CONDA_ENV
    shell:
        "bioseq chrom-sizes {input:q} -o {output:q} > {log:q} 2>&1"


rule scan:
    input:
        unpack(scan_inputs),
    output:
        track=temp(out("scan/shards/{dataset}.{model}/{part}.bedGraph")),
        peaks=temp(out("scan/shards/{dataset}.{model}/{part}.peaks.bed")),
    log:
        "logs/scan/{dataset}.{model}.{part}.log",
    params:
        chroms=lambda wildcards: part_chroms("scan", wildcards.part),
        regions=lambda wildcards, input: f"--regions {shlex.quote(input.regions)}" if "regions" in input.keys() else "",
        args=scan_args,
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=job_gpus,
    conda:
        CONDA_ENV
    shell:
        "bioseq scan {input.model:q} --genome {input.genome:q} {params.regions} {params.chroms} {params.args}"
        " --threads {threads} -o {output.track:q} --peaks {output.peaks:q} > {log:q} 2>&1"


rule gather_scan:
    input:
        tracks=lambda wildcards: expand(out("scan/shards/{d}.{m}/{part}.bedGraph"), d=wildcards.dataset,
                                        m=wildcards.model, part=part_names("scan")),
        peaks=lambda wildcards: expand(out("scan/shards/{d}.{m}/{part}.peaks.bed"), d=wildcards.dataset,
                                       m=wildcards.model, part=part_names("scan")),
    output:
        track=out("scan/{dataset}.{model}.bedGraph"),
        peaks=out("scan/{dataset}.{model}.peaks.bed"),
    log:
        "logs/gather_scan/{dataset}.{model}.log",
    localrule: True
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "(bioseq gather --kind lines {input.tracks:q} -o {output.track:q}"
        " && bioseq gather --kind lines {input.peaks:q} -o {output.peaks:q}) > {log:q} 2>&1"


rule plot_scan:
    input:
        track=out("scan/{dataset}.{model}.bedGraph"),
        peaks=out("scan/{dataset}.{model}.peaks.bed"),
        sizes=lambda wildcards: f"{OUT}/genomes/{section_genome('scan')}.chrom.sizes",
    output:
        report(
            out("scan/{dataset}.{model}.png"),
            caption="../report/scan.rst",
            category=SCAN_CATEGORY,
            labels={"dataset": "{dataset}", "model": "{model}", "figure": "scan track"},
        ),
    log:
        "logs/plot_scan/{dataset}.{model}.log",
    params:
        threshold=lambda wildcards: config["scan"]["threshold"],
        title=lambda wildcards: shlex.quote(f"{wildcards.dataset}/{wildcards.model} on {section_genome('scan')}"),
    localrule: True
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "bioseq plot-track {input.track:q} --peaks {input.peaks:q} --chrom-sizes {input.sizes:q}"
        " --threshold {params.threshold} --title {params.title} -o {output:q} > {log:q} 2>&1"


rule variant_effect:
    input:
        model=out("models/{dataset}/{model}.safetensors"),
        vcf=lambda wildcards: VCFS[wildcards.vcf],
        genome=lambda wildcards: GENOMES[section_genome("variants")],
        sizes=lambda wildcards: f"{OUT}/genomes/{section_genome('variants')}.chrom.sizes",
    output:
        temp(out("variants/shards/{dataset}.{model}.{vcf}/{part}.tsv")),
    log:
        "logs/variant_effect/{dataset}.{model}.{vcf}.{part}.log",
    params:
        chroms=lambda wildcards: part_chroms("variants", wildcards.part),
        args=variant_args,
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=job_gpus,
    conda:
        CONDA_ENV
    shell:
        "bioseq variant-effect {input.model:q} --vcf {input.vcf:q} --genome {input.genome:q} {params.chroms}"
        " {params.args} --threads {threads} -o {output:q} > {log:q} 2>&1"


rule gather_variants:
    input:
        lambda wildcards: expand(out("variants/shards/{d}.{m}.{v}/{part}.tsv"), d=wildcards.dataset,
                                 m=wildcards.model, v=wildcards.vcf, part=part_names("variants")),
    output:
        out("variants/{dataset}.{model}.{vcf}.tsv"),
    log:
        "logs/gather_variants/{dataset}.{model}.{vcf}.log",
    localrule: True
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "bioseq gather --kind tsv {input:q} -o {output:q} > {log:q} 2>&1"


rule top_variants:
    input:
        out("variants/{dataset}.{model}.{vcf}.tsv"),
    output:
        table=report(
            out("variants/{dataset}.{model}.{vcf}.top.tsv"),
            caption="../report/top_variants.rst",
            category=VARIANT_CATEGORY,
            labels={"dataset": "{dataset}", "model": "{model}", "vcf": "{vcf}", "figure": "table"},
        ),
        plot=report(
            out("variants/{dataset}.{model}.{vcf}.top.png"),
            caption="../report/top_variants.rst",
            category=VARIANT_CATEGORY,
            labels={"dataset": "{dataset}", "model": "{model}", "vcf": "{vcf}", "figure": "plot"},
        ),
    log:
        "logs/top_variants/{dataset}.{model}.{vcf}.log",
    params:
        top=lambda wildcards: config["variants"]["top"],
        cls=lambda wildcards: f"--class {shlex.quote(config['variants']['class'])}" if "class" in config["variants"]
        else "",
    localrule: True
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "bioseq top-effects {input:q} -n {params.top} {params.cls} --plot {output.plot:q}"
        " -o {output.table:q} > {log:q} 2>&1"
