"""``bioseq workflow``: where the installed Snakemake workflow is, and a starter project that imports it."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "workflow",
        help="the Snakemake workflow installed with bioseq: its path, a starter project",
        description=(
            "'bioseq workflow path' prints the directory of the installed Snakemake workflow (its Snakefile, "
            "rules, schemas, profiles/{local,slurm}, report captions, envs). 'bioseq workflow init DIR' writes "
            "a starter project into DIR: a Snakefile that imports the installed workflow as a module (a local "
            "path, nothing is downloaded), config/config.yaml (a copy of the template) and the example data; "
            "then run 'snakemake --cores 2' in DIR."
        ),
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("path", help="print the installed workflow's directory")
    init = sub.add_parser("init", help="write a starter project (Snakefile, config, example data) into DIR")
    init.add_argument("directory", metavar="DIR", help="project directory (created if absent)")
    init.add_argument("--force", action="store_true", help="replace files of a previous init")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from bioseq.workflow import init_project, workflow_dir

    if args.action == "path":
        print(workflow_dir())
        return 0
    written = init_project(args.directory, force=args.force)
    print(f"bioseq workflow: wrote {len(written)} files into {args.directory}; "
          f"run 'snakemake --cores 2' there (config: {args.directory}/config/config.yaml)")
    return 0
