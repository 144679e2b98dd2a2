# Configuration checks, paths and input functions of the genome scan and variant rules
# (rules/genomics.smk): the `scan:` and `variants:` sections become file names and the
# chromosome groups of each shard. Nothing here computes results; the chromosome list is read
# from the chrom.sizes file that `bioseq chrom-sizes` (a checkpoint) writes.

import shlex

GENOMICS_SECTIONS = ("scan", "variants")
SCAN_CATEGORY = "Genome scan"
VARIANT_CATEGORY = "Variant effects"


wildcard_constraints:
    genome=r"[A-Za-z0-9_-]+",
    vcf=r"[A-Za-z0-9_-]+",
    part=r"\d+-of-\d+",


def _genome_name(path):
    """`ref/hg38.fa.gz` -> `hg38` (characters a wildcard cannot hold become `_`)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", _input_name(path)) or "genome"


def _vcf_inputs(spec):
    """{name: resolved path} of `variants.vcfs` (a mapping, or a list named after the files)."""
    vcfs = spec["vcfs"]
    items = vcfs.items() if isinstance(vcfs, dict) else [(_input_name(p), p) for p in vcfs]
    named = {}
    for i, (name, path) in enumerate(items):
        key = "variants.vcfs" + (f".{name}" if isinstance(vcfs, dict) else f"[{i}]")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name) or name in named:
            raise _config_error(key, f"cannot name the VCF '{path}' after its file (or two share a name); "
                                "use a mapping name: path")
        named[name] = _check_file(key, path)
    return named


def _check_genomics():
    """{genome name: resolved FASTA} of the sections present; files exist, models are trained."""
    genomes = {}
    for section in GENOMICS_SECTIONS:
        if section not in config:
            continue
        check_section_model(section)
        path = _check_file(f"{section}.genome", config[section]["genome"])
        name = _genome_name(path)
        if genomes.get(name, path) != path:
            raise _config_error(f"{section}.genome", f"two genomes are named '{name}': rename one file")
        genomes[name] = path
    if "regions" in config.get("scan", {}):
        _check_file("scan.regions", config["scan"]["regions"])
    return genomes


GENOMES = _check_genomics()
VCFS = _vcf_inputs(config["variants"]) if "variants" in config else {}


def section_genome(section):
    return _genome_name(_resolve(config[section]["genome"]))


def scan_prefix():
    spec = config["scan"]
    return f"{OUT}/scan/{spec['dataset']}.{spec['model']}"


def variants_prefix(vcf):
    spec = config["variants"]
    return f"{OUT}/variants/{spec['dataset']}.{spec['model']}.{vcf}"


def genomics_outputs():
    """The final files of the `scan` and `variants` sections (none without them)."""
    files = []
    if "scan" in config:
        files += [f"{scan_prefix()}{ext}" for ext in (".bedGraph", ".peaks.bed", ".png")]
    for vcf in VCFS:
        files += [f"{variants_prefix(vcf)}{ext}" for ext in (".tsv", ".top.tsv", ".top.png")]
    return files


# ---- shards: whole chromosomes in .fai order --------------------------------


def chrom_groups(section):
    """[[chrom, ...], ...]: the genome's chromosomes (from the checkpoint's chrom.sizes, in .fai order)
    in contiguous groups of at least `shard_mb` Mb each (the last may be smaller)."""
    sizes = checkpoints.chrom_sizes.get(genome=section_genome(section)).output[0]
    limit = config[section]["shard_mb"] * 1e6
    groups, current, total = [], [], 0
    with open(sizes) as fh:
        for line in fh:
            chrom, size = line.rstrip("\n").split("\t")
            current.append(chrom)
            total += int(size)
            if total >= limit:
                groups.append(current)
                current, total = [], 0
    return groups + [current] if current else groups


def part_names(section):
    groups = chrom_groups(section)
    return [f"{i + 1}-of-{len(groups)}" for i in range(len(groups))]


def part_chroms(section, part):
    """`--chrom NAME ...` of one part (`i-of-n`)."""
    i, n = map(int, part.split("-of-"))
    groups = chrom_groups(section)
    if n != len(groups):
        raise WorkflowError(f"part {part} of the {section} shards: the genome now has {len(groups)} parts")
    return " ".join(f"--chrom {shlex.quote(c)}" for c in groups[i - 1])


def common_args(section):
    """Options every scoring job of a section shares (batch size, device, window, strands)."""
    spec = config[section]
    args = ["--batch-size", config["batch_size"], "--device", config["device"], "--no-progress"]
    if "window" in spec:
        args += ["--window", spec["window"]]
    if spec.get("both_strands"):
        args.append("--both-strands")
    return args


def scan_args(wildcards):
    spec = config["scan"]
    args = common_args("scan") + ["--threshold", spec["threshold"], "--max-n", spec["max_n"]]
    for key, option in (("stride", "--stride"), ("class", "--class")):
        if key in spec:
            args += [option, spec[key]]
    return " ".join(shlex.quote(str(a)) for a in args)


def variant_args(wildcards):
    spec = config["variants"]
    args = common_args("variants") + ["--ref-mismatch", spec["ref_mismatch"], "--max-allele", spec["max_allele"]]
    return " ".join(shlex.quote(str(a)) for a in args)


def scan_inputs(wildcards):
    files = {
        "model": model_path(wildcards.dataset, wildcards.model),
        "genome": GENOMES[section_genome("scan")],
        "sizes": f"{OUT}/genomes/{section_genome('scan')}.chrom.sizes",
    }
    if "regions" in config["scan"]:
        files["regions"] = _resolve(config["scan"]["regions"])
    return files
