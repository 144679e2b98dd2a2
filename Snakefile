# bioseq: train, predict, embed and evaluate sequence classifiers.
#
#   snakemake --cores 2                                   # bundled data, workflows/config/config.yaml
#   snakemake --cores 2 --configfile my.yaml              # your own datasets (replaces the default)
#   snakemake --profile workflows/profiles/slurm          # on a SLURM cluster
#   snakemake --report report.html                        # figures + metrics
#
# Every rule calls the `bioseq` CLI; see workflows/README.md.

from pathlib import Path

from snakemake.utils import min_version

min_version("8.0")


# The bundled default config is read only when none is given: Snakemake merges a
# `configfile:` into --configfile, which would add the bundled datasets to yours.
if "datasets" not in config and not workflow.config_settings.configfiles:

    configfile: Path(workflow.basedir) / "workflows/config/config.yaml"


include: "workflows/rules/common.smk"
include: "workflows/rules/train.smk"
include: "workflows/rules/predict.smk"
include: "workflows/rules/embed.smk"
include: "workflows/rules/evaluate.smk"
include: "workflows/rules/report.smk"


localrules:
    all,
    shard,
    gather_predictions,
    merge_caches,


rule all:
    input:
        all_outputs(),
    default_target: True
