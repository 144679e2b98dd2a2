"""The Snakemake workflow that ships with the package, and a starter project that imports it.

This package directory *is* the workflow: ``Snakefile``, ``rules/``,
``schemas/``, ``report/`` (captions), ``profiles/{local,slurm}``, ``envs/``
(conda), ``config/config.yaml`` (the starter config) and ``data/`` (the
example dataset the starter config trains on). The repository's top-level
``Snakefile`` includes this one; an installed bioseq finds it with
:func:`workflow_dir` (``bioseq workflow path``), and :func:`init_project`
(``bioseq workflow init DIR``) writes a project that imports it as a Snakemake
``module``: a local path, nothing fetched.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bioseq.errors import ConfigError

#: The config template and the example data that :func:`init_project` copies, relative to :func:`workflow_dir`.
CONFIG_TEMPLATE = Path("config") / "config.yaml"
EXAMPLE_DATA = Path("data")

SNAKEFILE_TEMPLATE = '''\
# Your bioseq project: the workflow installed with bioseq, imported as a module.
# Written by `bioseq workflow init`; edit config/config.yaml (your datasets and
# models), then:
#
#   snakemake --cores 2                       # train, predict, embed, evaluate
#   snakemake --report report.html            # figures, metrics, a comparison table
#   snakemake --profile {profiles}/slurm      # on a SLURM cluster
#
# The module's rules are renamed bioseq_* (bioseq_train, bioseq_predict, ...);
# their resources, local rules and report work under any name.

import bioseq.workflow


configfile: "config/config.yaml"


module bioseq:
    # The workflow of the bioseq installed where Snakemake runs, a local path
    # (`bioseq workflow path`; when this file was written: {snakefile}).
    snakefile:
        bioseq.workflow.snakefile()
    config:
        config


use rule * from bioseq as bioseq_*


rule all:
    input:
        rules.bioseq_all.input,
    default_target: True
    localrule: True
'''


def workflow_dir() -> Path:
    """The directory of the installed workflow (the one holding its ``Snakefile``)."""
    return Path(__file__).resolve().parent


def snakefile() -> Path:
    """The installed workflow's ``Snakefile``."""
    return workflow_dir() / "Snakefile"


def init_project(directory: str | os.PathLike[str], *, force: bool = False) -> list[Path]:
    """Write a starter project into ``directory``; return the files written.

    The project: ``Snakefile`` (imports :func:`snakefile`, found when Snakemake
    runs, as a module named ``bioseq``, rules renamed ``bioseq_*``), ``config/config.yaml`` (a copy of
    the template: the example dataset, an ``auto`` model and the kmer-linear
    baseline) and ``data/`` (the example dataset). Relative paths in the config
    are taken against the directory Snakemake runs in: run it in ``directory``.

    Raises:
        ConfigError: a file to write exists already (unless ``force``), or
            ``directory`` is a file.
    """
    dest = Path(directory)
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"not a directory: '{dest}'")
    src = workflow_dir()
    data_files = sorted(p for p in (src / EXAMPLE_DATA).rglob("*") if p.is_file())
    targets = [dest / "Snakefile", dest / CONFIG_TEMPLATE] + [dest / p.relative_to(src) for p in data_files]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise ConfigError(f"would overwrite {', '.join(existing)} (use --force to replace them)")
    (dest / CONFIG_TEMPLATE).parent.mkdir(parents=True, exist_ok=True)
    text = SNAKEFILE_TEMPLATE.format(snakefile=snakefile(), profiles=src / "profiles")
    (dest / "Snakefile").write_text(text, encoding="utf-8")
    shutil.copyfile(src / CONFIG_TEMPLATE, dest / CONFIG_TEMPLATE)
    for path, target in zip(data_files, targets[2:], strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return targets
