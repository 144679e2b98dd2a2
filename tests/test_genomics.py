"""Tests of bioseq.genomics: genome access (plain and bgzip), BED regions, genome scans and
variant effects on a small synthetic genome with a planted motif."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

pysam = pytest.importorskip("pysam")

import bioseq  # noqa: E402
from bioseq.alphabets import DNA  # noqa: E402
from bioseq.cli import main  # noqa: E402
from bioseq.errors import ConfigError, GenomeError  # noqa: E402
from bioseq.genomics.genome import Genome  # noqa: E402
from bioseq.genomics.regions import Region, read_bed, region_records, resize  # noqa: E402
from bioseq.genomics.scan import scan_to_file  # noqa: E402
from bioseq.genomics.variants import allele_windows, variant_effects_to_file  # noqa: E402
from bioseq.io.readers import SequenceItem  # noqa: E402
from bioseq.io.writers import read_predictions  # noqa: E402

MOTIF = "GGGGCCCCGGGGCCCC"
MOTIF_AT = 1500
WINDOW = 100


def rand_seq(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


def make_genome() -> dict[str, str]:
    rng = random.Random(7)
    chr1 = rand_seq(rng, 3000)
    chr1 = chr1[:MOTIF_AT] + MOTIF + chr1[MOTIF_AT + len(MOTIF) :]
    chr2 = rand_seq(rng, 800)
    chr2 = chr2[:300] + "N" * 100 + chr2[400:]
    return {"chr1": chr1, "chr2": chr2.lower()[:50] + chr2[50:]}  # soft-masked start: read upper-case


def write_fasta(path, chroms, width=60):
    with open(path, "w") as fh:
        for name, seq in chroms.items():
            fh.write(f">{name} synthetic\n")
            fh.writelines(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
    return path


@pytest.fixture(scope="module")
def chroms():
    return make_genome()


@pytest.fixture(scope="module")
def genomes(tmp_path_factory, chroms):
    """``{"plain": genome.fa, "bgzip": genome.fa.gz}`` (no index yet: built on first open)."""
    from Bio import bgzf

    d = tmp_path_factory.mktemp("genome")
    plain = write_fasta(d / "genome.fa", chroms)
    gz = d / "genome.fa.gz"
    with open(plain, "rb") as src, bgzf.BgzfWriter(str(gz), "wb") as out:
        out.write(src.read())
    return {"plain": plain, "bgzip": gz}


@pytest.fixture(scope="module")
def model():
    """kmer-linear (4-mers) trained on 100-letter windows with and without the motif."""
    rng = random.Random(3)
    recs = []
    for i in range(300):
        seq = rand_seq(rng, WINDOW)
        if i % 2:
            at = rng.randint(0, WINDOW - len(MOTIF))
            seq = seq[:at] + MOTIF + seq[at + len(MOTIF) :]
        recs.append(SequenceItem(f"w{i}", seq, ("motif" if i % 2 else "background",)))
    return bioseq.train(recs, arch="kmer-linear", progress=False)


# ------------------------------------------------------------------ genome access and coordinates
@pytest.mark.parametrize("kind", ["plain", "bgzip"])
def test_fetch_is_0_based_half_open_and_builds_the_index(genomes, chroms, kind):
    with Genome(genomes[kind]) as g:
        assert g.lengths == {"chr1": 3000, "chr2": 800}
        assert g.fetch("chr1", 10, 20) == chroms["chr1"][10:20]
        assert g.fetch("chr1", 59, 61) == chroms["chr1"][59:61]  # across a FASTA line break
        assert g.fetch("chr2", 0, 5) == chroms["chr2"][:5].upper()  # soft-masked letters upper-cased
        assert g.fetch("chr1", 2995, 3000) == chroms["chr1"][-5:]
        assert g.fetch("chr1", -2, 3, pad=True) == "NN" + chroms["chr1"][:3]
        assert g.fetch("chr1", 2998, 3002, pad=True) == chroms["chr1"][-2:] + "NN"
        assert g.fetch("chr1", 3005, 3008, pad=True) == "NNN"
        with pytest.raises(GenomeError, match=r"chr1:2998-3002 reaches past the chromosome \(chr1 is 3000 bp"):
            g.fetch("chr1", 2998, 3002)
        with pytest.raises(GenomeError, match="unknown chromosome 'chrX'"):
            g.fetch("chrX", 0, 1)
    assert (genomes[kind].parent / (genomes[kind].name + ".fai")).exists()
    if kind == "bgzip":
        assert (genomes[kind].parent / "genome.fa.gz.gzi").exists()


def test_plain_gzip_and_unwritable_directory_are_named_errors(tmp_path, chroms, monkeypatch):
    import gzip

    gz = tmp_path / "plain.fa.gz"
    gz.write_bytes(gzip.compress(b">a\nACGT\n"))
    with pytest.raises(GenomeError, match="plain gzip.*bgzip") as err:
        Genome(gz)
    assert str(gz) in str(err.value)
    fa = write_fasta(tmp_path / "ro.fa", {"a": "ACGT"})
    monkeypatch.setattr("bioseq.genomics.genome.os.access", lambda *a: False)
    with pytest.raises(GenomeError, match=r"index ro.fa.fai is missing .* not writable: .*samtools faidx"):
        Genome(fa)


def test_bed_regions_strand_resize_ids_and_edges(tmp_path, genomes, chroms):
    bed = tmp_path / "r.bed"
    bed.write_text(
        "track name=x\n# comment\n"
        "chr1\t10\t20\tplus\t0\t+\n"
        "chr1\t10\t20\t.\t0\t-\n"
        "chr2\t100\t200\n"
    )
    regions = list(read_bed(bed))
    assert regions[0] == Region("chr1", 10, 20, "+", "plus", None, 3)
    assert resize(Region("c", 100, 200), 50)[:3] == ("c", 125, 175)
    assert resize(Region("c", 100, 201), 50)[:3] == ("c", 125, 175)
    assert resize(Region("c", 100, 101), 4)[:3] == ("c", 98, 102)
    with Genome(genomes["plain"]) as g:
        recs = [item for _, item in region_records(g, regions)]
        assert [r.id for r in recs] == ["plus", "chr1:10-20(-)", "chr2:100-200(.)"]
        assert recs[0].seq == chroms["chr1"][10:20]
        assert recs[1].seq == DNA.reverse_complement(chroms["chr1"][10:20])
        assert recs[2].seq == chroms["chr2"][100:200]
        edge = [Region("chr1", 2990, 3000, "+", None, None, 9)]
        with pytest.raises(GenomeError, match=r"r.bed:9: chr1:2980-3010 reaches past"):
            list(region_records(g, edge, width=30, where=str(bed)))
        ((r, item),) = region_records(g, edge, width=30, pad=True)
        assert (r.start, r.end) == (2980, 3010) and item.seq == chroms["chr1"][2980:] + "N" * 10
        with pytest.raises(GenomeError, match="unknown chromosome 'chrZ'"):
            list(region_records(g, [Region("chrZ", 0, 5)]))


def test_predict_regions_cli_table(tmp_path, genomes, chroms, model):
    bundle = tmp_path / "m.safetensors"
    model.save(bundle)
    bed = tmp_path / "r.bed"
    bed.write_text(f"chr1\t{MOTIF_AT - 42}\t{MOTIF_AT + 58}\tmotif_site\t0\t+\nchr1\t100\t200\n")
    out = tmp_path / "p.tsv"
    assert main(["predict", str(bundle), "--regions", str(bed), "--genome", str(genomes["bgzip"]),
                 "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].split("\t") == ["id", "predicted", "prob_background", "prob_motif", "chrom", "start", "end",
                                    "strand"]
    assert lines[1].split("\t")[0] == "motif_site" and lines[1].split("\t")[4:] == ["chr1", "1458", "1558", "+"]
    assert lines[2].split("\t")[0] == "chr1:100-200(.)"
    table = read_predictions(out)  # evaluate/gather read the table: the region columns are ignored
    assert table.labels == ["background", "motif"] and table.ids[0] == "motif_site"
    direct = model.predict_proba_sequences([chroms["chr1"][MOTIF_AT - 42 : MOTIF_AT + 58], chroms["chr1"][100:200]])
    np.testing.assert_allclose(table.probs, direct, atol=1e-5)
    assert table.predicted[0] == "motif"
    # INPUT and --regions are exclusive; --regions needs --genome
    assert main(["predict", str(bundle), "--regions", str(bed), "-o", str(tmp_path / "x.tsv")]) == 1
    assert main(["predict", str(bundle), "-o", str(tmp_path / "x.tsv")]) == 1


def test_embed_regions_cli(tmp_path, genomes, chroms, model):
    h5py = pytest.importorskip("h5py")
    bundle = tmp_path / "m.safetensors"
    model.save(bundle)
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t100\ta\nchr2\t100\t200\tb\t0\t-\n")
    out = tmp_path / "e.h5"
    assert main(["embed", str(bundle), "--regions", str(bed), "--genome", str(genomes["plain"]), "-o", str(out),
                 "--no-progress"]) == 0
    with h5py.File(out) as f:
        ids = [i.decode() if isinstance(i, bytes) else i for i in f["ids"][:]]
        emb = f["embeddings"][:]
    assert ids == ["a", "b"]
    direct = model.embed_sequences([chroms["chr1"][:100], DNA.reverse_complement(chroms["chr2"][100:200])])
    np.testing.assert_allclose(emb, direct, atol=1e-5)


def test_train_from_regions_with_labels_in_the_name_column(tmp_path, genomes):
    bed = tmp_path / "train.bed"
    rows = [f"chr1\t{MOTIF_AT - 30 + i}\t{MOTIF_AT + 50 + i}\tmotif\n" for i in range(10)]
    rows += [f"chr1\t{200 + 40 * i}\t{280 + 40 * i}\tbackground\n" for i in range(10)]
    bed.write_text("".join(rows))
    out = tmp_path / "m.safetensors"
    assert main(["train", "--regions", str(bed), "--genome", str(genomes["plain"]), "--arch", "kmer-linear",
                 "-o", str(out), "-q"]) == 0
    assert sorted(bioseq.load(out).labels) == ["background", "motif"]


# ------------------------------------------------------------------ scans
def _read_bedgraph(path):
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    return [(c, int(s), int(e), float(v)) for c, s, e, v in rows]


def test_scan_finds_the_planted_motif_and_tiles(tmp_path, genomes, model):
    out, peaks = tmp_path / "s.bedGraph", tmp_path / "peaks.bed"
    stats = scan_to_file(model, genomes["plain"], out, window=WINDOW, peaks=peaks, threshold=0.5)
    rows = _read_bedgraph(out)
    chr1 = [r for r in rows if r[0] == "chr1"]
    # windows start every 50 letters; each value sits on the window's central 50-letter bin
    assert chr1[0][1:3] == (25, 75) and all(a[2] == b[1] for a, b in zip(chr1, chr1[1:], strict=False))
    assert [r[0] for r in rows] == sorted((r[0] for r in rows), key=["chr1", "chr2"].index)
    best = max(chr1, key=lambda r: r[3])
    assert best[1] < MOTIF_AT + len(MOTIF) and best[2] > MOTIF_AT - WINDOW // 2
    assert best[3] > 0.5
    peak_rows = [line.split("\t") for line in peaks.read_text().splitlines()]
    assert any(p[0] == "chr1" and int(p[1]) <= MOTIF_AT + 50 and int(p[2]) >= MOTIF_AT for p in peak_rows)
    # chr2 has N at [300, 400): windows holding more than 10 % N are skipped (a gap)
    chr2 = [r for r in rows if r[0] == "chr2"]
    assert stats.skipped_n == 3  # windows starting at 250, 300, 350 (those at 200 and 400 hold no N)
    assert all(not (r[1] >= 275 and r[2] <= 425) for r in chr2)
    assert stats.windows == len(rows)


def test_scan_plain_and_bgzip_agree_and_regions_restrict(tmp_path, genomes, model):
    a, b = tmp_path / "a.bedGraph", tmp_path / "b.bedGraph"
    scan_to_file(model, genomes["plain"], a, window=WINDOW, stride=20)
    scan_to_file(model, genomes["bgzip"], b, window=WINDOW, stride=20)
    assert a.read_text() == b.read_text()
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t1450\t1700\nchr1\t1400\t1500\n")  # unsorted and overlapping: merged to [1400, 1700)
    c = tmp_path / "c.bedGraph"
    scan_to_file(model, genomes["plain"], c, window=WINDOW, stride=20, regions=bed)
    rows = _read_bedgraph(c)
    assert rows[0][1:3] == (1440, 1460) and rows[-1][1:3] == (1640, 1660)
    full = {r[1:3]: r[3] for r in _read_bedgraph(a)}
    assert all(full[r[1:3]] == r[3] for r in rows)


def test_scan_default_window_is_the_training_length_and_a_class_is_checked(tmp_path, genomes, model):
    assert model.metadata["train_lengths"] == {"min": WINDOW, "median": WINDOW, "max": WINDOW}
    default, given = tmp_path / "default.bedGraph", tmp_path / "given.bedGraph"
    scan_to_file(model, genomes["plain"], default)  # kmer-linear: the window it was trained on
    scan_to_file(model, genomes["plain"], given, window=WINDOW)
    assert default.read_text() == given.read_text() and default.stat().st_size > 0
    with pytest.raises(ConfigError, match="unknown class 'nope'"):
        scan_to_file(model, genomes["plain"], tmp_path / "x.bedGraph", window=WINDOW, class_name="nope")
    assert not (tmp_path / "x.bedGraph").exists()


def test_a_bundle_without_training_lengths_needs_a_window(tmp_path, genomes, model):
    """An older bundle (no train_lengths) gets an error asking for --window, from the API and the CLI."""
    bundle = tmp_path / "old.safetensors"
    model.save(bundle)
    old = bioseq.load(bundle)
    del old.metadata["train_lengths"]
    old.save(bundle)
    old = bioseq.load(bundle)
    assert "train_lengths" not in old.metadata
    with pytest.raises(ConfigError, match=r"records no training sequence length .*--window"):
        scan_to_file(old, genomes["plain"], tmp_path / "x.bedGraph")
    vcf = write_vcf(tmp_path / "v.vcf", [("chr1", 11, "a", make_genome()["chr1"][10], "N")])
    with pytest.raises(ConfigError, match="--window"):
        variant_effects_to_file(old, vcf, genomes["plain"], tmp_path / "x.tsv")
    assert main(["scan", str(bundle), "--genome", str(genomes["plain"]), "-o", str(tmp_path / "x.bedGraph")]) == 1
    assert not (tmp_path / "x.bedGraph").exists() and not (tmp_path / "x.tsv").exists()


@pytest.mark.parametrize("arch", ["cnn-lstm", "auto"])
def test_every_architecture_records_its_training_lengths(tmp_path, arch):
    """Nets and ensembles record min/median/max letters of the training records, shown by `bioseq info`
    and kept in the bundle; the median is the default window."""
    rng = random.Random(5)
    recs = [SequenceItem(f"r{i}", rand_seq(rng, 30 + i % 21), ("a" if i % 2 else "b",)) for i in range(60)]
    tiny = {"conv_filters": [8], "conv_kernels": [5], "pool_sizes": [2], "rnn_hidden": 4, "head_hidden": 0}
    options = {"epochs": 1, "hparams": tiny} if arch == "cnn-lstm" else {"candidates": ["kmer-linear"]}
    trained = bioseq.train(recs[:48], recs[48:], arch=arch, progress=False, **options)
    lengths = sorted(len(r.seq) for r in recs[:48])
    expected = {"min": lengths[0], "median": lengths[23], "max": lengths[-1]}
    bundle = tmp_path / "m.safetensors"
    trained.save(bundle)
    loaded = bioseq.load(bundle)
    assert loaded.metadata["train_lengths"] == expected
    from bioseq.genomics.model_info import model_length

    assert model_length(loaded) == expected["median"] and model_length(loaded, 7) == 7
    from bioseq.cli.info import summary

    assert f"train length: min {expected['min']}, median {expected['median']}, max {expected['max']}" in summary(
        loaded.metadata)


def test_scan_by_chromosome_and_progress(tmp_path, genomes, model):
    """Scans of single chromosomes, concatenated in .fai order, are the whole scan (the workflow's
    shards), peaks included; progress counts every window, skipped ones too, out of the total."""
    whole, whole_peaks = tmp_path / "whole.bedGraph", tmp_path / "whole.bed"
    calls = []
    stats = scan_to_file(model, genomes["plain"], whole, peaks=whole_peaks, threshold=0.3,
                         progress=lambda n, total: calls.append((n, total)))
    total = (3000 - WINDOW) // 50 + 1 + (800 - WINDOW) // 50 + 1
    assert {t for _, t in calls} == {total} and sum(n for n, _ in calls) == total == stats.windows + stats.skipped_n
    parts, peaks = [], []
    for chrom in ("chr1", "chr2"):
        out, bed = tmp_path / f"{chrom}.bedGraph", tmp_path / f"{chrom}.bed"
        scan_to_file(model, genomes["plain"], out, chroms=[chrom], peaks=bed, threshold=0.3)
        parts.append(out.read_text())
        peaks.append(bed.read_text())
    assert "".join(parts) == whole.read_text() and "".join(peaks) == whole_peaks.read_text()
    assert whole_peaks.read_text() and all(f"{c}:{s}-{e}" == name for c, s, e, name, *_ in
                                           (line.split("\t") for line in whole_peaks.read_text().splitlines()))
    with pytest.raises(GenomeError, match="unknown chromosome 'chrX'"):
        scan_to_file(model, genomes["plain"], tmp_path / "x.bedGraph", chroms=["chrX"])


# ------------------------------------------------------------------ variants
def write_vcf(path, rows):
    header = (
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=3000>\n##contig=<ID=chr2,length=800>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    )
    path.write_text(header + "".join("\t".join(map(str, r)) + "\t.\t.\t.\n" for r in rows))
    return path


def test_allele_windows_vcf_positions_are_1_based(genomes, chroms):
    s = chroms["chr1"]
    with Genome(genomes["plain"]) as g:
        # SNV at POS 11 = s[10]
        assert allele_windows(g, "chr1", 11, s[10], "A", 5) == (s[8:13], s[8:10] + "A" + s[11:13])
        # deletion REF s[10:12] -> ALT s[10]: each allele centred in its own window
        assert allele_windows(g, "chr1", 11, s[10:12], s[10], 5) == (s[9:14], s[8:10] + s[10] + s[12:14])
        # insertion s[10] -> s[10] + "TT"
        assert allele_windows(g, "chr1", 11, s[10], s[10] + "TT", 5) == (s[8:13], s[9:10] + s[10] + "TT" + s[11:12])
        # at the chromosome's start the flank is N
        assert allele_windows(g, "chr1", 1, s[0], "A", 5) == ("NN" + s[:3], "NNA" + s[1:3])


def test_variant_effects(tmp_path, genomes, chroms, model):
    s = chroms["chr1"]
    mid = MOTIF_AT + 8  # a G->A... inside the motif (0-based), POS = mid + 1
    alt_in = "A" if s[mid] != "A" else "T"
    vcf = write_vcf(tmp_path / "v.vcf", [
        ("chr1", mid + 1, "in_motif", s[mid], alt_in),
        ("chr1", 501, "background", s[500], "A" if s[500] != "A" else "T"),
        ("chr1", 701, "multi", s[700], "A,T" if s[700] not in "AT" else "C,G"),
        ("chr1", 801, "symbolic", s[800], "<DEL>"),
        ("chr1", 901, "indel", s[900:903], s[900]),
    ])
    out = tmp_path / "e.tsv"
    stats = variant_effects_to_file(model, vcf, genomes["plain"], out, window=WINDOW)
    assert (stats.records, stats.scored, stats.symbolic) == (5, 5, 1)
    lines = [line.split("\t") for line in out.read_text().splitlines()]
    assert lines[0] == ["chrom", "pos", "id", "ref", "alt", "ref_background", "ref_motif", "alt_background",
                        "alt_motif", "delta_background", "delta_motif", "log2fc_background", "log2fc_motif"]
    rows = {(r[2], r[4]): r for r in lines[1:]}
    assert [r[2] for r in lines[1:]] == ["in_motif", "background", "multi", "multi", "indel"]
    delta = {k[0]: abs(float(r[10])) for k, r in rows.items()}
    assert delta["in_motif"] > 5 * delta["background"]
    r = rows[("in_motif", alt_in)]
    assert float(r[10]) < 0 and np.isclose(float(r[10]), float(r[8]) - float(r[6]), atol=1e-5)
    assert np.isclose(float(r[12]), np.log2((float(r[8]) + 1e-6) / (float(r[6]) + 1e-6)), atol=1e-4)
    # the same through the bgzip genome
    out_gz = tmp_path / "e_gz.tsv"
    variant_effects_to_file(model, vcf, genomes["bgzip"], out_gz, window=WINDOW)
    assert out_gz.read_text() == out.read_text()


def test_variant_effects_by_chromosome(tmp_path, genomes, chroms, model):
    """Per-chromosome tables, concatenated in genome order, are the whole table (sorted VCF); a record
    on a chromosome the genome lacks is an error in every shard; progress counts records."""
    s1, s2 = chroms["chr1"], chroms["chr2"].upper()
    rows = [("chr1", 11, "a", s1[10], "A" if s1[10] != "A" else "C"), ("chr1", 1509, "b", s1[1508], "T,G"),
            ("chr2", 600, "c", s2[599], "A" if s2[599] != "A" else "G")]
    vcf = write_vcf(tmp_path / "v.vcf", rows)
    whole = tmp_path / "whole.tsv"
    seen = []
    variant_effects_to_file(model, vcf, genomes["plain"], whole, progress=lambda n, t: seen.append((n, t)))
    assert seen == [(3, None)]
    parts = []
    for chrom in ("chr1", "chr2"):
        out = tmp_path / f"{chrom}.tsv"
        stats = variant_effects_to_file(model, vcf, genomes["plain"], out, chroms=[chrom])
        assert stats.records == (2 if chrom == "chr1" else 1)
        parts.append(out.read_text().split("\n", 1))
    assert parts[0][0] == parts[1][0]  # one header
    assert parts[0][0] + "\n" + parts[0][1] + parts[1][1] == whole.read_text()
    unknown = write_vcf(tmp_path / "u.vcf", rows + [("chrQ", 5, "q", "A", "C")])
    with pytest.raises(GenomeError, match="variant chrQ:5 q: unknown chromosome"):
        variant_effects_to_file(model, unknown, genomes["plain"], tmp_path / "o.tsv", chroms=["chr1"])


def test_ref_mismatch_names_the_variant(tmp_path, genomes, chroms, model):
    s = chroms["chr1"]
    wrong = "A" if s[99] != "A" else "C"
    vcf = write_vcf(tmp_path / "bad.vcf", [("chr1", 100, "rs_bad", wrong, "G"), ("chr1", 201, "ok", s[200], "N")])
    with pytest.raises(GenomeError, match=rf"variant chr1:100 rs_bad: REF {wrong} does not match the genome's "
                                          rf"{s[99]}"):
        variant_effects_to_file(model, vcf, genomes["plain"], tmp_path / "o.tsv", window=WINDOW)
    assert not (tmp_path / "o.tsv").exists()
    stats = variant_effects_to_file(model, vcf, genomes["plain"], tmp_path / "o.tsv", window=WINDOW,
                                    ref_mismatch="skip")
    assert (stats.ref_mismatch, stats.scored) == (1, 1)


def test_variant_effect_cli_writes_vcf_with_info(tmp_path, genomes, chroms, model):
    s = chroms["chr1"]
    bundle = tmp_path / "m.safetensors"
    model.save(bundle)
    wrong = "A" if chroms["chr2"][9].upper() != "A" else "C"
    vcf = write_vcf(tmp_path / "v.vcf", [("chr1", 1509, "x", s[1508], "A,<DEL>"), ("chr2", 10, "y", wrong, "C")])
    vcf_gz = tmp_path / "v.vcf.gz"
    pysam.tabix_compress(str(vcf), str(vcf_gz))
    out = tmp_path / "o.vcf.gz"
    rc = main(["variant-effect", str(bundle), "--vcf", str(vcf_gz), "--genome", str(genomes["bgzip"]),
               "-o", str(out), "--window", str(WINDOW), "--ref-mismatch", "warn"])
    assert rc == 0
    with pysam.VariantFile(str(out)) as v:
        recs = list(v)
    assert len(recs) == 2
    d = recs[0].info["BIOSEQ_DELTA_motif"]
    assert len(d) == 2 and d[0] is not None and d[0] < 0 and d[1] is None
    assert "BIOSEQ_DELTA_motif" not in recs[1].info  # a REF mismatch (warn): written back unscored


@pytest.mark.parametrize("what", ["binary", "two columns", "negative start", "bad strand", "empty", "past the end"])
def test_crafted_bed_files_get_a_named_error_and_no_table(tmp_path, capsys, genomes, model, what):
    bundle = tmp_path / "m.safetensors"
    model.save(bundle)
    content = {
        "binary": bytes(range(256)), "two columns": b"chr1\t1\n", "negative start": b"chr1\t-5\t10\n",
        "bad strand": b"chr1\t1\t10\tx\t0\t?\n", "empty": b"", "past the end": b"chr2\t700\t900\n",
    }[what]
    bed = tmp_path / "bad.bed"
    bed.write_bytes(content)
    out = tmp_path / "out.tsv"
    assert main(["predict", str(bundle), "--regions", str(bed), "--genome", str(genomes["plain"]), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "bioseq predict: error: " in err and "bad.bed" in err and "Traceback" not in err
    assert not out.exists()


def test_crafted_genome_and_vcf_get_named_errors(tmp_path, capsys, genomes, model):
    bundle = tmp_path / "m.safetensors"
    model.save(bundle)
    garbage = tmp_path / "garbage.fa"
    garbage.write_bytes(bytes(range(256)) * 10)
    assert main(["scan", str(bundle), "--genome", str(garbage), "-o", str(tmp_path / "o.bg"), "--window", "50"]) == 1
    assert "garbage.fa" in capsys.readouterr().err
    bad = tmp_path / "bad.vcf"
    bad.write_text("not a vcf\n")
    args = ["--genome", str(genomes["plain"]), "-o", str(tmp_path / "o.tsv"), "--window", "50"]
    assert main(["variant-effect", str(bundle), "--vcf", str(bad), *args]) == 1
    assert "bad.vcf" in capsys.readouterr().err
    unknown = write_vcf(tmp_path / "unk.vcf", [("chrQ", 5, "rsQ", "A", "C")])
    assert main(["variant-effect", str(bundle), "--vcf", str(unknown), *args]) == 1
    err = capsys.readouterr().err
    assert "variant chrQ:5 rsQ: unknown chromosome 'chrQ'" in err and "unk.vcf" in err
    assert not (tmp_path / "o.tsv").exists() and not (tmp_path / "o.bg").exists()


# ------------------------------------------------------------------ chrom sizes, figures, progress bars
def test_chrom_sizes_cli_builds_the_index_and_lists_chromosomes(tmp_path, chroms):
    fa = write_fasta(tmp_path / "g.fa", chroms)
    out = tmp_path / "g.chrom.sizes"
    assert main(["chrom-sizes", str(fa), "-o", str(out)]) == 0
    assert out.read_text() == "chr1\t3000\nchr2\t800\n" and (tmp_path / "g.fa.fai").exists()
    assert main(["chrom-sizes", str(tmp_path / "nope.fa"), "-o", str(tmp_path / "x")]) == 1


def test_track_summary_and_plot(tmp_path):
    """Each point is the largest value of the bins whose centre falls in it; chromosomes side by side
    in chrom.sizes order; a chromosome missing from the sizes is an error naming the line."""
    from bioseq.genomics.plots import plot_track, summarize_track

    track = tmp_path / "t.bedGraph"
    track.write_text("a\t0\t10\t0.1\na\t10\t20\t0.7\na\t20\t30\t0.3\nb\t0\t10\t0.9\n")
    summary = summarize_track(track, {"a": 40, "b": 20}, buckets=3)  # 60 letters: 20 per point
    assert summary.bucket == 20 and summary.offsets == {"a": 0, "b": 40}
    assert np.allclose(summary.values, [0.7, 0.3, 0.9])  # centres 5, 15 | 25 | 45
    fine = summarize_track(track, {"a": 40, "b": 20}, buckets=1000)  # never narrower than a bin
    assert fine.bucket == 10 and np.isnan(fine.values[3]) and fine.values[4] == pytest.approx(0.9)
    sizes = tmp_path / "s.sizes"
    sizes.write_text("a\t40\nb\t20\n")
    peaks = tmp_path / "p.bed"
    peaks.write_text("a\t10\t20\ta:10-20\t700\t.\n")
    out = tmp_path / "t.png"
    plot_track(track, out, peaks=peaks, chrom_sizes=sizes, threshold=0.5, title="t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sizes.write_text("a\t40\n")
    assert main(["plot-track", str(track), "--chrom-sizes", str(sizes), "-o", str(tmp_path / "x.png")]) == 1
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(Exception, match=r"t.bedGraph:4.*'b' is not in the genome's chromosome list"):
        summarize_track(track, {"a": 40})


def test_top_effects_rank_by_class_or_largest_effect(tmp_path, capsys):
    from bioseq.errors import InputFormatError
    from bioseq.genomics.plots import top_effects

    table = tmp_path / "e.tsv"
    cols = ["chrom", "pos", "id", "ref", "alt"] + [f"{s}_{c}" for s in ("ref", "alt", "delta", "log2fc")
                                                   for c in ("x", "y", "z")]
    rows = [  # deltas (x, y, z)
        ["chr1", "5", "v1", "A", "C", 0.5, 0.5, 0.0, 0.4, 0.1, 0.5, -0.1, -0.4, 0.5, 0, 0, 0],
        ["chr1", "9", "v2", "G", "T", 0.5, 0.5, 0.0, 0.1, 0.8, 0.1, -0.4, 0.3, 0.1, 0, 0, 0],
        ["chr2", "3", "v3", "T", "TA", 0.5, 0.5, 0.0, 0.45, 0.55, 0.0, -0.05, 0.05, 0.0, 0, 0, 0],
    ]
    table.write_text("\t".join(cols) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    best, classes = top_effects(table, n=2)  # three classes: each variant's largest |delta|
    assert classes == ["x", "y", "z"]
    assert [(r[0], r[3], r[6], r[9]) for r in best] == [(1, "v1", "z", 0.5), (2, "v2", "x", -0.4)]
    best, _ = top_effects(table, n=5, class_name="y")
    assert [r[3] for r in best] == ["v1", "v2", "v3"]  # |-0.4| > |0.3| > |0.05|
    out, plot = tmp_path / "top.tsv", tmp_path / "top.png"
    assert main(["top-effects", str(table), "-n", "1", "--class", "x", "-o", str(out), "--plot", str(plot)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].split("\t")[:7] == ["rank", "chrom", "pos", "id", "ref", "alt", "class"]
    assert lines[1].split("\t")[:7] == ["1", "chr1", "9", "v2", "G", "T", "x"] and len(lines) == 2
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputFormatError, match="no class 'w'"):
        top_effects(table, class_name="w")
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tpredicted\tprob_a\n")
    assert main(["top-effects", str(bad), "-o", str(tmp_path / "x.tsv")]) == 1
    assert "not a variant-effect table" in capsys.readouterr().err


def test_scan_and_variant_effect_cli_progress_bars(tmp_path, genomes, chroms, model, monkeypatch, capsys):
    """A bar on a terminal (counting windows out of the total; records), none with --no-progress or
    when stderr is not a terminal, as for predict."""
    bundle = tmp_path / "m.safetensors"
    model.save(bundle)
    vcf = write_vcf(tmp_path / "v.vcf", [("chr1", 11, "a", chroms["chr1"][10], "N")])
    scan = ["scan", str(bundle), "--genome", str(genomes["plain"]), "-o", str(tmp_path / "s.bg")]
    effect = ["variant-effect", str(bundle), "--vcf", str(vcf), "--genome", str(genomes["plain"]), "-o",
              str(tmp_path / "e.tsv")]
    total = (3000 - WINDOW) // 50 + 1 + (800 - WINDOW) // 50 + 1
    assert main(scan) == 0
    assert f"{total}/{total}" not in capsys.readouterr().err  # not a terminal: no bar
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert main(scan) == 0
    err = capsys.readouterr().err
    assert f"{total}/{total}" in err and "win" in err
    assert main(effect) == 0
    assert "variant-effect: 1 rec" in capsys.readouterr().err
    assert main([*scan, "--no-progress"]) == 0 and f"{total}/{total}" not in capsys.readouterr().err


# ------------------------------------------------------------------ the README's example
EXAMPLE_DIR = Path(__file__).resolve().parent / "data" / "genomics"


def write_training_set(path, n=200):
    """WINDOW-letter records labelled `motif` (the planted motif somewhere) or `background`."""
    rng = random.Random(11)
    with open(path, "w") as fh:
        for i in range(n):
            seq = rand_seq(rng, WINDOW)
            if i % 2:
                at = rng.randint(0, WINDOW - len(MOTIF))
                seq = seq[:at] + MOTIF + seq[at + len(MOTIF):]
            fh.write(f">w{i} label={'motif' if i % 2 else 'background'}\n{seq}\n")
    return path


def example_variants(chroms):
    """A sorted VCF's rows: an SNV breaking the motif, background SNVs, a multi-allelic record, an indel."""
    s1, s2 = chroms["chr1"], chroms["chr2"].upper()
    mid = MOTIF_AT + 8
    return [
        ("chr1", 101, "bg1", s1[100], "A" if s1[100] != "A" else "C"),
        ("chr1", mid + 1, "in_motif", s1[mid], "A" if s1[mid] != "A" else "T"),
        ("chr1", 2001, "multi", s1[2000], "AC,G" if s1[2000] != "G" else "AC,T"),
        ("chr1", 2501, "del", s1[2500:2503], s1[2500]),
        ("chr2", 501, "bg2", s2[500], "A" if s2[500] != "A" else "C"),
    ]


def write_example(directory):
    """The README's small synthetic genome: genome.fa (+ .fai), train.fa, regions.bed, variants.vcf."""
    chroms = make_genome()
    write_fasta(directory / "genome.fa", chroms)
    with Genome(directory / "genome.fa"):
        pass  # writes genome.fa.fai
    write_training_set(directory / "train.fa")
    (directory / "regions.bed").write_text(
        f"chr1\t{MOTIF_AT - 42}\t{MOTIF_AT + 58}\tmotif_site\t0\t+\n"
        "chr1\t500\t600\tbackground_site\t0\t-\nchr2\t600\t700\n"
    )
    write_vcf(directory / "variants.vcf", example_variants(chroms))


def test_the_shipped_example_is_what_the_helpers_make(tmp_path):
    write_example(tmp_path)
    for name in ("genome.fa", "genome.fa.fai", "train.fa", "regions.bed", "variants.vcf"):
        assert (tmp_path / name).read_bytes() == (EXAMPLE_DIR / name).read_bytes(), name


def test_readme_genomics_example_runs(tmp_path, monkeypatch, capsys):
    """The commands of the README's genomics example, as written there, on a copy of tests/data/genomics:
    the scan's peak covers the planted motif, the motif-breaking SNV has the largest effect."""
    import shlex
    import shutil

    readme = (EXAMPLE_DIR.parents[2] / "README.md").read_text()
    block = readme.split("<!-- genomics example -->", 2)[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.startswith("bioseq ")]
    assert [c.split()[1] for c in commands] == ["train", "predict", "scan", "variant-effect"]
    shutil.copytree(EXAMPLE_DIR, tmp_path / "genomics")
    monkeypatch.chdir(tmp_path / "genomics")
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, capsys.readouterr().err
    table = read_predictions("regions.tsv")
    assert table.ids == ["motif_site", "background_site", "chr2:600-700(.)"]
    assert table.predicted == ["motif", "background", "background"]
    peaks = [line.split("\t") for line in open("peaks.bed").read().splitlines()]
    assert any(p[0] == "chr1" and int(p[1]) <= MOTIF_AT < int(p[2]) for p in peaks)
    rows = [line.split("\t") for line in open("effects.tsv").read().splitlines()]
    deltas = {(r[2], r[4]): float(r[rows[0].index("delta_motif")]) for r in rows[1:]}
    assert len(deltas) == 6  # the multi-allelic record gives two rows
    (in_motif,) = [d for (vid, _), d in deltas.items() if vid == "in_motif"]
    others = [abs(d) for (vid, _), d in deltas.items() if vid != "in_motif"]
    assert in_motif < 0 and abs(in_motif) > 3 * max(others)  # "by far the largest", negative

