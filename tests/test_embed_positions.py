"""Per-position embeddings of short inputs (Model.embed_positions, bioseq embed --per-position)."""

import math

import numpy as np
import pytest
import torch

from bioseq.api import Model
from bioseq.errors import ConfigError
from bioseq.models.registry import get_model as get_arch
from bioseq.tokenize.kmer import KmerTokenizer

SEQS = ["ACGTACGTAC" * 3, "GGGTTTAAAC" * 5, "ACGTTGCA" * 2]


def make(arch: str, **hp) -> Model:
    torch.manual_seed(0)
    arch_cls = get_arch(arch)
    tokenizer = KmerTokenizer(alphabet="dna", **arch_cls.default_tokenizer("dna"))
    return Model.create(arch, tokenizer, ["a", "b"], "binary", {**arch_cls.default_hparams("dna"), **hp})


@pytest.mark.parametrize(("arch", "hp"), [("cnn-lstm", {}), ("transformer", {}), ("transformer", {"pooling": "cls"})])
def test_shapes_and_padding_invariance(arch, hp):
    model = make(arch, **hp)
    together = model.embed_positions(SEQS)
    alone = [model.embed_positions([s])[0] for s in SEQS]
    for seq, a, b in zip(SEQS, together, alone, strict=True):
        if arch == "transformer":
            assert a.shape == (model.tokenizer.n_tokens(len(seq)), model.embedding_dim)
        else:
            assert a.shape[0] == math.ceil(len(seq) / 8)
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_mean_of_positions_is_the_pooled_embedding_for_mean_pooling():
    model = make("transformer")  # masked-mean pooling
    pooled = model.embed_sequences(SEQS)
    per_pos = model.embed_positions(SEQS)
    np.testing.assert_allclose(np.stack([p.mean(0) for p in per_pos]), pooled, atol=1e-5)


def test_long_inputs_and_kmer_linear_are_refused():
    model = make("transformer", max_tokens=8)
    with pytest.raises(ConfigError, match="short inputs"):
        model.embed_positions(["ACGT" * 20])
    kl = make("kmer-linear")
    with pytest.raises(ConfigError, match="neural trunk"):
        kl.embed_positions(["ACGT"])


def test_cli_writes_a_ragged_file(tmp_path):
    from bioseq.cli import main
    from bioseq.embed.positions import read_positions

    model = make("cnn-lstm")
    model.save(tmp_path / "m.safetensors")
    fasta = tmp_path / "in.fa"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(SEQS)))
    out = tmp_path / "pos.h5"
    assert main(["embed", str(tmp_path / "m.safetensors"), str(fasta), "--per-position", "-o", str(out)]) == 0
    expected = make("cnn-lstm").embed_positions([SEQS[1]])[0]
    np.testing.assert_allclose(read_positions(out, "s1"), expected, atol=1e-5)
