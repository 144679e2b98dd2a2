from importlib.metadata import entry_points

import numpy as np
import pytest

from bioseq.errors import ConfigError, PluginError
from bioseq.tokenize import TOKENIZERS, KmerTokenizer, check_tokenizer, tokenizer_from_config


def test_kmer_is_an_entry_point():
    eps = {ep.name: ep.value for ep in entry_points(group="bioseq.tokenizers")}
    assert eps["kmer"] == "bioseq.tokenize.kmer:KmerTokenizer"
    assert "kmer" in TOKENIZERS.names()
    assert TOKENIZERS.get("kmer") is KmerTokenizer


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"k": 6, "canonical": True},
        {"k": 3, "stride": 3},
        {"k": 2, "stride": 5},
        {"k": 3, "alphabet": "rna", "canonical": True, "stride": 2},
        {"k": 2, "alphabet": "protein"},
        {"k": 4, "alphabet": "protein"},  # int32 ids
    ],
)
def test_builtin_configurations_conform(kwargs):
    tok = KmerTokenizer(**kwargs)
    check_tokenizer(tok)
    assert tokenizer_from_config(tok.config()) == tok


def test_tokenizer_from_config_errors():
    with pytest.raises(ConfigError, match="name"):
        tokenizer_from_config({"k": 3})
    with pytest.raises(ConfigError, match="mapping"):
        tokenizer_from_config("kmer")
    with pytest.raises(PluginError, match="unknown tokenizer 'bpe'.*kmer"):
        tokenizer_from_config({"name": "bpe"})


def test_registry_rejects_entries_without_from_config(monkeypatch):
    monkeypatch.setitem(TOKENIZERS._items, "broken", object())
    with pytest.raises(PluginError, match="broken.*from_config"):
        TOKENIZERS.get("broken")


class _CharTokenizer:
    """A minimal third-party tokenizer: one id per DNA letter, written without bioseq internals."""

    name = "char"
    PAD, UNK, CLS, MASK = 0, 1, 2, 3
    vocab_size = 8
    dtype = np.dtype(np.uint8)

    class alphabet:  # noqa: N801 - mimics an Alphabet
        letters = "ACGT"

    def n_tokens(self, length):
        return length

    def encode(self, seq):
        return np.array(["ACGT".index(c) + 4 for c in seq], dtype=self.dtype)

    def encode_batch(self, seqs, max_len=None, ids=None):
        lengths = np.array([min(len(s), max_len or len(s)) for s in seqs], dtype=np.int64)
        out = np.zeros((len(seqs), int(lengths.max()) if len(seqs) else 0), dtype=self.dtype)
        for i, s in enumerate(seqs):
            out[i, : lengths[i]] = self.encode(s)[: lengths[i]]
        return out, lengths

    def decode(self, tokens):
        return "".join("ACGT"[t - 4] for t in tokens if t >= 4)

    def config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, cfg):
        return cls()

    def __eq__(self, other):
        return isinstance(other, _CharTokenizer)

    __hash__ = object.__hash__


def test_a_plugin_tokenizer_registers_and_conforms(monkeypatch):
    monkeypatch.setitem(TOKENIZERS._items, "char", _CharTokenizer)
    tok = tokenizer_from_config({"name": "char"})
    assert isinstance(tok, _CharTokenizer)
    check_tokenizer(tok)


class _BadPadding(_CharTokenizer):
    def encode_batch(self, seqs, max_len=None, ids=None):
        out, lengths = super().encode_batch(seqs, max_len, ids)
        out[out == 0] = 1
        return out, lengths


class _BadSpecial(_CharTokenizer):
    UNK = 7


class _BadDtype(_CharTokenizer):
    vocab_size = 300


class _BadConfig(_CharTokenizer):
    def config(self):
        return {"name": self.name, "weights": np.zeros(2)}


class _BadLength(_CharTokenizer):
    def n_tokens(self, length):
        return length + 1


class _BadRoundTrip(_CharTokenizer):
    def __eq__(self, other):
        return False

    __hash__ = object.__hash__


class _BadDecode(_CharTokenizer):
    def decode(self, tokens):
        return "A" * len(tokens)


class _BadTruncation(_CharTokenizer):
    def encode_batch(self, seqs, max_len=None, ids=None):
        return super().encode_batch(seqs, None, ids)


@pytest.mark.parametrize(
    "cls, check",
    [
        (_BadPadding, "batch padding"),
        (_BadSpecial, "special ids"),
        (_BadDtype, "dtype"),
        (_BadConfig, "config"),
        (_BadLength, "encode length"),
        (_BadRoundTrip, "config round trip"),
        (_BadDecode, "decode"),
        (_BadTruncation, "max_len"),
    ],
)
def test_check_tokenizer_catches_broken_tokenizers(cls, check):
    with pytest.raises(PluginError, match=f"fails check '{check}"):
        check_tokenizer(cls())


def test_check_tokenizer_with_explicit_sequences():
    check_tokenizer(KmerTokenizer(k=3), sequences=["ACGTACGT", "acg", "TTTTTTTTTTTTTTTTTTTT"])
