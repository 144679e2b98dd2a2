"""The workflow's optional `scan:` and `variants:` sections, end to end on a small synthetic genome
(two chromosomes, a planted motif, a tiny VCF) through the real ``bioseq`` CLI: the per-chromosome
shards gathered in genome order equal one unsharded ``bioseq scan`` / ``variant-effect`` run, and
the report lists the track plot and the top variants."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("pysam")
yaml = pytest.importorskip("yaml")

from test_genomics import MOTIF_AT, write_example  # noqa: E402
from test_workflow import bioseq_cli, check_logs, planned_rules, snakemake  # noqa: E402


def genomics_config(work: Path) -> dict:
    """The README's example data (its .fai removed: the workflow builds it); one dataset, kmer-linear;
    a scan of both chromosomes (one shard each) and one VCF."""
    write_example(work)
    (work / "genome.fa.fai").unlink()
    return {
        "outdir": "results", "threads": 1, "shards": 1, "embed": False, "batch_size": 64,
        "datasets": {"toy": {"train": "train.fa", "alphabet": "dna"}},
        "models": {"kmer": {"arch": "kmer-linear", "kmer": 4}},
        "scan": {"genome": "genome.fa", "dataset": "toy", "model": "kmer", "threshold": 0.3, "shard_mb": 0},
        "variants": {"genome": "genome.fa", "dataset": "toy", "model": "kmer", "vcfs": ["variants.vcf"], "top": 3,
                     "shard_mb": 0},
    }


@pytest.fixture(scope="module")
def genomics_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wfg") / "work"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(genomics_config(work)))
    res = snakemake("--cores", "2", "--configfile", "config.yaml", cwd=work)
    assert res.returncode == 0, res.stderr[-5000:]
    return work


def test_sharded_scan_and_variants_equal_one_unsharded_run(genomics_run: Path) -> None:
    work, out = genomics_run, genomics_run / "results"
    model = out / "models" / "toy" / "kmer.safetensors"
    # one job per chromosome (shard_mb 0), the parts gathered in genome order, the parts removed
    logs = work / "logs"
    assert sorted(p.name for p in (logs / "scan").iterdir()) == ["toy.kmer.1-of-2.log", "toy.kmer.2-of-2.log"]
    assert len(list((logs / "variant_effect").iterdir())) == 2
    assert (out / "genomes" / "genome.chrom.sizes").read_text() == "chr1\t3000\nchr2\t800\n"
    assert not list(out.glob("scan/shards/**/*.bedGraph")) and not list(out.glob("variants/shards/**/*.tsv"))
    check_logs(logs)
    track = (out / "scan" / "toy.kmer.bedGraph").read_text()
    chroms_in_order = [line.split("\t")[0] for line in track.splitlines()]
    assert chroms_in_order == sorted(chroms_in_order) and set(chroms_in_order) == {"chr1", "chr2"}
    direct = work / "direct"
    direct.mkdir()
    res = bioseq_cli("scan", str(model), "--genome", str(work / "genome.fa"), "-o", str(direct / "scan.bedGraph"),
                     "--peaks", str(direct / "peaks.bed"), "--threshold", "0.3")
    assert res.returncode == 0, res.stderr
    assert track == (direct / "scan.bedGraph").read_text()
    peaks = (out / "scan" / "toy.kmer.peaks.bed").read_text()
    assert peaks == (direct / "peaks.bed").read_text()
    assert any(p.split("\t")[0] == "chr1" and int(p.split("\t")[1]) <= MOTIF_AT < int(p.split("\t")[2])
               for p in peaks.splitlines())
    res = bioseq_cli("variant-effect", str(model), "--vcf", str(work / "variants.vcf"), "--genome",
                     str(work / "genome.fa"), "-o", str(direct / "effects.tsv"))
    assert res.returncode == 0, res.stderr
    effects = (out / "variants" / "toy.kmer.variants.tsv").read_text()
    assert effects == (direct / "effects.tsv").read_text()
    assert [line.split("\t")[2] for line in effects.splitlines()[1:]] == ["bg1", "in_motif", "multi", "multi", "del",
                                                                             "bg2"]
    top = [line.split("\t") for line in (out / "variants" / "toy.kmer.variants.top.tsv").read_text().splitlines()]
    assert top[0][:4] == ["rank", "chrom", "pos", "id"] and len(top) == 4
    assert top[1][3] == "in_motif" and top[1][6] == "motif"  # the motif-breaking SNV ranks first
    for png in ("scan/toy.kmer.png", "variants/toy.kmer.variants.top.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_lists_the_track_and_the_top_variants(genomics_run: Path) -> None:
    res = snakemake("--cores", "1", "--configfile", "config.yaml", "--report", "report.html", cwd=genomics_run)
    assert res.returncode == 0, res.stderr[-3000:]
    html = (genomics_run / "report.html").read_text(errors="replace")
    for name in ("toy.kmer.png", "toy.kmer.variants.top.tsv", "toy.kmer.variants.top.png", "Genome scan",
                 "Variant effects"):
        assert name in html, name
    # the front page describes both sections, and counts neither as a dataset (the toy has no test input)
    assert "section shows the track of a trained model" in html and "section lists the variants" in html
    assert "input of 0 dataset(s)" in html


@pytest.mark.slow
def test_a_new_vcf_replans_only_the_variant_jobs(genomics_run: Path) -> None:
    vcf = genomics_run / "variants.vcf"
    lines = vcf.read_text().splitlines(keepends=True)
    vcf.write_text("".join(lines[:-1]))  # drop chr2's variant
    res = snakemake("-n", "--cores", "2", "--configfile", "config.yaml", cwd=genomics_run)
    assert res.returncode == 0, res.stderr[-3000:]
    assert planned_rules(res.stdout) == {"variant_effect": 2, "gather_variants": 1, "top_variants": 1, "all": 1}


SCHEMA = Path(__file__).resolve().parents[1] / "bioseq" / "workflow" / "schemas" / "config.schema.yaml"


@pytest.mark.parametrize("change, message", [
    ({"scan": {"threshold": 2}}, "2 is greater than the maximum of 1"),
    ({"variants": {"unknown_key": 1}}, "'unknown_key' was unexpected"),
    ({"variants": {"vcfs": []}}, "[] is not valid"),
    ({"scan": {"genome": None}}, "None is not of type 'string'"),
])
def test_the_schema_checks_the_sections(tmp_path: Path, change: dict, message: str) -> None:
    from snakemake.utils import validate

    cfg = genomics_config(tmp_path)
    validate(cfg, str(SCHEMA))  # the good one passes, defaults filled in
    assert cfg["scan"]["max_n"] == 0.1 and cfg["variants"]["ref_mismatch"] == "error"
    for section, values in change.items():
        cfg[section].update(values)
    with pytest.raises(Exception, match=re.escape(message)):
        validate(cfg, str(SCHEMA))


@pytest.mark.parametrize("change, key", [
    ({"scan": {"dataset": "nope"}}, "bioseq workflow config key 'scan.dataset': unknown dataset 'nope'"),
    pytest.param({"variants": {"vcfs": ["missing.vcf"]}},
                 "bioseq workflow config key 'variants.vcfs[0]': file not found", marks=pytest.mark.slow),
])
def test_a_wrong_name_or_missing_file_is_refused_naming_the_key(tmp_path: Path, change: dict, key: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    cfg = genomics_config(work)
    for section, values in change.items():
        cfg[section].update(values)
    (work / "bad.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake("-n", "--configfile", "bad.yaml", cwd=work)
    assert res.returncode != 0
    assert key in res.stdout + res.stderr, (res.stdout + res.stderr)[-2000:]


@pytest.mark.slow
def test_module_import_runs_the_genomics_rules(tmp_path: Path) -> None:
    """Renamed module rules (`bioseq_*`) run the sections too: the checkpoint works under its new name.
    Here `shard_mb` groups both chromosomes (3,000 + 800 bp >= 0.0035 Mb only together) into one job."""
    work = tmp_path / "work"
    work.mkdir()
    cfg = genomics_config(work)
    cfg["scan"]["shard_mb"] = 0.0035
    (work / "module.yaml").write_text(yaml.safe_dump({"bioseq": cfg}))
    snakefile = Path(__file__).resolve().parents[1] / "bioseq" / "workflow" / "Snakefile"
    (work / "Snakefile").write_text(
        f"module bioseq:\n    snakefile: {str(snakefile)!r}\n    config: config['bioseq']\n\n"
        "use rule * from bioseq as bioseq_*\n"
    )
    res = snakemake("--cores", "2", "--configfile", "module.yaml", "--until", "bioseq_gather_scan",
                    cwd=work, snakefile=work / "Snakefile")
    assert res.returncode == 0, res.stderr[-3000:]
    assert [p.name for p in (work / "logs" / "scan").iterdir()] == ["toy.kmer.1-of-1.log"]
    track = (work / "results" / "scan" / "toy.kmer.bedGraph").read_text()
    assert {line.split("\t")[0] for line in track.splitlines()} == {"chr1", "chr2"}


def test_the_demo_config_ships_a_commented_example() -> None:
    """The sections stay off in the bundled configs (a genome is no demo data), but an example of each
    is there to uncomment; once uncommented, it validates."""
    repo = Path(__file__).resolve().parents[1]
    starter = repo / "bioseq" / "workflow" / "config" / "config.yaml"
    for path in (starter, repo / "workflows" / "config" / "config.yaml"):
        text = path.read_text()
        cfg = yaml.safe_load(text)
        assert "scan" not in cfg and "variants" not in cfg
        assert "# scan:" in text and "# variants:" in text
    text = starter.read_text()
    block, inside = [], False
    for line in text.splitlines():  # the two sections' lines (not another commented section's)
        inside = line.startswith(("# scan:", "# variants:")) or (inside and line.startswith("#   "))
        if inside:
            block.append(line[2:])
    example = yaml.safe_load("\n".join(block))
    from snakemake.utils import validate

    cfg = {**yaml.safe_load(text), **example}
    validate(cfg, str(repo / "bioseq" / "workflow" / "schemas" / "config.schema.yaml"))
    assert cfg["scan"]["shard_mb"] == 50 and cfg["variants"]["top"] == 20  # defaults filled in
