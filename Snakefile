# bioseq: train, predict, embed and evaluate sequence classifiers (repository entry point).
#
#   snakemake --cores 2                                   # bundled data, workflows/config/config.yaml
#   snakemake --cores 2 --configfile my.yaml              # your own datasets (replaces the default)
#   snakemake --profile workflows/profiles/slurm          # on a SLURM cluster
#   snakemake --report report.html                        # figures + metrics
#
# The workflow itself ships with the package, in bioseq/workflow/ (rules,
# schema, report captions, profiles; `bioseq workflow path` prints where it is
# installed); this file only adds the repository's default config.
# See workflows/README.md.

from pathlib import Path


# The bundled default config is read only when none is given: Snakemake merges a
# `configfile:` into --configfile, which would add the bundled datasets to yours.
if "datasets" not in config and not workflow.config_settings.configfiles:

    configfile: Path(workflow.basedir) / "workflows/config/config.yaml"


# `include:` would keep this file's default target (none): include so that the
# packaged workflow's `rule all` is the default, as if it were written here.
workflow.include("bioseq/workflow/Snakefile", overwrite_default_target=True)
