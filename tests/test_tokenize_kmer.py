import itertools
import json
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioseq.alphabets import DNA, get_alphabet
from bioseq.errors import AlphabetError, BioseqError, ConfigError, SequenceTooShortError
from bioseq.tokenize.kmer import CLS, MASK, PAD, UNK, KmerTokenizer

# ---------------------------------------------------------------- pure-Python reference


@cache
def _ref_vocab(k, alphabet, canonical):
    a = get_alphabet(alphabet)
    kmers = ["".join(p) for p in itertools.product(a.letters, repeat=k)]  # lexicographic = raw index
    index = {km: i for i, km in enumerate(kmers)}
    if not canonical:
        return {km: 4 + i for km, i in index.items()}
    reps = sorted({min(i, index[a.reverse_complement(km)]) for km, i in index.items()})
    rank = {r: 4 + j for j, r in enumerate(reps)}
    return {km: rank[min(i, index[a.reverse_complement(km)])] for km, i in index.items()}


def ref_encode(seq, k, alphabet="dna", stride=1, canonical=False):
    vocab = _ref_vocab(k, alphabet, canonical)
    seq = seq.upper()
    return [vocab.get(seq[i : i + k], UNK) for i in range(0, len(seq) - k + 1, stride)]


dna = st.text(alphabet="ACGTacgt", min_size=0, max_size=60)
dna_with_n = st.text(alphabet="ACGTNacgtnRY", min_size=0, max_size=60)
protein = st.text(alphabet="ACDEFGHIKLMNPQRSTVWYXacdy*", min_size=0, max_size=40)
kmer_params = st.tuples(st.integers(1, 5), st.integers(1, 7), st.booleans())

# ---------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None)
@given(seqs=st.lists(dna_with_n, min_size=1, max_size=8), params=kmer_params)
def test_agrees_with_python_reference_dna(seqs, params):
    k, stride, canonical = params
    tok = KmerTokenizer(k=k, stride=stride, canonical=canonical, short="empty")
    tokens, lengths = tok.encode_batch(seqs)
    for i, seq in enumerate(seqs):
        expected = ref_encode(seq, k, "dna", stride, canonical)
        assert lengths[i] == len(expected) == tok.n_tokens(len(seq))
        assert tokens[i, : lengths[i]].tolist() == expected
        assert tok.encode(seq).tolist() == expected
        assert np.all(tokens[i, lengths[i] :] == PAD)


@settings(max_examples=80, deadline=None)
@given(seqs=st.lists(protein, min_size=1, max_size=6), k=st.integers(1, 2), stride=st.integers(1, 3))
def test_agrees_with_python_reference_protein(seqs, k, stride):
    tok = KmerTokenizer(k=k, alphabet="protein", stride=stride, short="empty")
    tokens, lengths = tok.encode_batch(seqs)
    for i, seq in enumerate(seqs):
        assert tokens[i, : lengths[i]].tolist() == ref_encode(seq, k, "protein", stride)


@settings(max_examples=100, deadline=None)
@given(seq=dna, k=st.integers(1, 6), stride=st.integers(1, 6))
def test_encode_length(seq, k, stride):
    tok = KmerTokenizer(k=k, stride=stride, short="empty")
    expected = (len(seq) - k) // stride + 1 if len(seq) >= k else 0
    assert len(tok.encode(seq)) == expected == tok.n_tokens(len(seq))


@settings(max_examples=100, deadline=None)
@given(seq=dna_with_n, k=st.integers(1, 6))
def test_canonical_invariant_under_reverse_complement(seq, k):
    tok = KmerTokenizer(k=k, canonical=True, short="empty")
    assert np.array_equal(tok.encode(DNA.reverse_complement(seq)), tok.encode(seq)[::-1])


@settings(max_examples=100, deadline=None)
@given(seq=dna.filter(lambda s: len(s) >= 6), k=st.integers(1, 6), stride=st.integers(1, 6))
def test_decode_is_exact_when_kmers_cover_the_sequence(seq, k, stride):
    tok = KmerTokenizer(k=k, stride=stride)
    covered = (tok.n_tokens(len(seq)) - 1) * stride + k
    decoded = tok.decode(tok.encode(seq))
    if stride <= k:
        assert decoded == seq[:covered].upper()
    else:  # gaps between k-mers decode to N
        assert len(decoded) == covered
        assert all(d == s or d == "N" for d, s in zip(decoded, seq[:covered].upper(), strict=True))


@settings(max_examples=100, deadline=None)
@given(seq=dna_with_n.filter(lambda s: len(s) >= 6), k=st.integers(1, 6), stride=st.integers(1, 3))
def test_canonical_decode_round_trips_tokens(seq, k, stride):
    tok = KmerTokenizer(k=k, stride=stride, canonical=True)
    tokens = tok.encode(seq)
    assert np.array_equal(tok.encode(tok.decode(tokens)), tokens)


def test_canonical_decode_recovers_the_strand_of_ordinary_sequences():
    tok = KmerTokenizer(k=6, canonical=True)
    seq = "ACGGTTCAGGATCCATTTAGGCAACGTTAGCAT"
    assert tok.decode(tok.encode(seq)) == seq


@settings(max_examples=60, deadline=None)
@given(seqs=st.lists(dna_with_n, min_size=0, max_size=10), k=st.integers(1, 4),
       max_len=st.none() | st.integers(1, 30))
def test_batch_equals_individual_encodes(seqs, k, max_len):
    tok = KmerTokenizer(k=k, short="empty")
    tokens, lengths = tok.encode_batch(seqs, max_len=max_len)
    assert tokens.dtype == tok.dtype and lengths.dtype == np.int64
    assert tokens.shape == (len(seqs), int(lengths.max()) if seqs else 0)
    for i, seq in enumerate(seqs):
        single = tok.encode(seq)[:max_len]
        assert lengths[i] == len(single)
        assert np.array_equal(tokens[i, : lengths[i]], single)
        assert np.all(tokens[i, lengths[i] :] == PAD)


# ---------------------------------------------------------------- fixed examples


def test_ids_are_lexicographic_from_4():
    tok = KmerTokenizer(k=2)
    assert tok.encode("AAACAGATCA").tolist() == [4, 4, 5, 8, 6, 12, 7, 17, 8]
    assert tok.vocab_size == 4 + 16
    assert (tok.PAD, tok.UNK, tok.CLS, tok.MASK) == (PAD, UNK, CLS, MASK) == (0, 1, 2, 3)
    assert tok.id_to_token(4) == "AA" and tok.id_to_token(19) == "TT" and tok.id_to_token(1) == "<unk>"


def test_chunks_and_ragged_lengths_match_reference():
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGTN"), size=int(n))) for n in rng.integers(5, 300, size=9000)]
    tok = KmerTokenizer(k=5, stride=2)
    tokens, lengths = tok.encode_batch(seqs)  # more than one 8,192-record chunk
    for i in (0, 1, 4000, 8191, 8192, 8999):
        assert tokens[i, : lengths[i]].tolist() == ref_encode(seqs[i], 5, "dna", 2)
    cut, cut_lengths = tok.encode_batch(seqs, max_len=7)  # truncation path (gather)
    assert np.array_equal(cut, tokens[:, :7]) and np.array_equal(cut_lengths, np.minimum(lengths, 7))


def test_vocab_size_and_dtype():
    assert KmerTokenizer(k=6).vocab_size == 4 + 4**6
    assert KmerTokenizer(k=6, canonical=True).vocab_size == 4 + (4**6 + 4**3) // 2
    assert KmerTokenizer(k=5, canonical=True).vocab_size == 4 + 4**5 // 2
    assert KmerTokenizer(k=7).dtype == np.uint16
    assert KmerTokenizer(k=8).dtype == np.int32
    assert KmerTokenizer(k=3, alphabet="protein").dtype == np.uint16
    assert KmerTokenizer(k=4, alphabet="protein").dtype == np.int32
    tok = KmerTokenizer(k=8)
    ids = tok.encode("TTTTTTTTA")
    assert ids.dtype == np.int32 and ids.tolist() == [4 + 4**8 - 1, 4 + 4**8 - 4]


def test_canonical_ids_are_compact():
    tok = KmerTokenizer(k=4, canonical=True)
    all_kmers = ["".join(p) for p in itertools.product("ACGT", repeat=4)]
    ids = np.concatenate([tok.encode(km) for km in all_kmers])
    assert sorted(set(ids.tolist())) == list(range(4, tok.vocab_size))


def test_lowercase_is_accepted():
    tok = KmerTokenizer(k=3)
    assert np.array_equal(tok.encode("acgTNa"), tok.encode("ACGTNA"))


def test_unknown_map_and_reject():
    assert KmerTokenizer(k=3).encode("ACGNACG").tolist()[1:4] == [UNK, UNK, UNK]
    with pytest.raises(AlphabetError, match="record 'r2'.*'R' at position 3.*reject"):
        KmerTokenizer(k=2, unknown="reject").encode_batch(["ACGT", "ACRT"], ids=["r1", "r2"])
    protein = KmerTokenizer(k=1, alphabet="protein")
    assert protein.encode("MX*").tolist()[1:] == [UNK, UNK]


def test_letters_outside_the_alphabet_always_fail():
    for unknown in ("map", "reject"):
        with pytest.raises(AlphabetError, match="record 'x'.*'U' at position 3.*dna alphabet"):
            KmerTokenizer(k=1, unknown=unknown).encode("ACUG", record_id="x")
    with pytest.raises(AlphabetError, match="sequence #1 of the batch.*'-'"):
        KmerTokenizer(k=1).encode_batch(["ACGT", "AC-GT"])
    with pytest.raises(AlphabetError, match="'é'"):
        KmerTokenizer(k=1).encode("ACé")
    with pytest.raises(AlphabetError, match="'T'.*rna alphabet"):
        KmerTokenizer(k=1, alphabet="rna").encode("ACGT")


def test_rna():
    tok = KmerTokenizer(k=2, alphabet="rna", canonical=True)
    assert np.array_equal(tok.encode("ACGUUA"), KmerTokenizer(k=2, canonical=True).encode("ACGTTA"))


def test_too_short():
    with pytest.raises(SequenceTooShortError, match="record 'tiny'.*length 2.*k=3"):
        KmerTokenizer(k=3).encode_batch(["ACGT", "AC"], ids=["ok", "tiny"])
    tok = KmerTokenizer(k=3, short="empty")
    assert tok.encode("AC").shape == (0,)
    tokens, lengths = tok.encode_batch(["AC", "ACGT", ""])
    assert lengths.tolist() == [0, 2, 0] and tokens[0].tolist() == [PAD, PAD]
    empty, empty_lengths = tok.encode_batch(["A"])
    assert empty.shape == (1, 0) and empty_lengths.tolist() == [0]


def test_empty_batch():
    tokens, lengths = KmerTokenizer(k=3).encode_batch([])
    assert tokens.shape == (0, 0) and lengths.shape == (0,)


def test_errors_are_bioseq_errors():
    with pytest.raises(BioseqError):
        KmerTokenizer(k=3).encode("ACG!")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "k must be"),
        ({"k": 2.0}, "k must be"),
        ({"stride": 0}, "stride"),
        ({"alphabet": "protein", "canonical": True}, "complement"),
        ({"unknown": "drop"}, "unknown"),
        ({"short": "skip"}, "short"),
        ({"alphabet": "klingon"}, "unknown alphabet"),
        ({"k": 16}, "int32"),
        ({"k": 13, "canonical": True}, "up to k=12"),
    ],
)
def test_invalid_parameters(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        KmerTokenizer(**kwargs)


def test_max_len_must_be_positive():
    with pytest.raises(ConfigError, match="max_len"):
        KmerTokenizer(k=1).encode_batch(["ACGT"], max_len=0)


def test_encode_batch_rejects_a_bare_string():
    with pytest.raises(TypeError, match="encode\\(\\)"):
        KmerTokenizer(k=1).encode_batch("ACGT")


def test_one_hot():
    tok = KmerTokenizer(k=1)
    tokens, _ = tok.encode_batch(["ACNT", "GA"])
    hot = tok.one_hot(tokens)
    assert hot.shape == (2, 4, 4) and hot.dtype == np.float32
    assert hot[0, 0].tolist() == [1, 0, 0, 0] and hot[0, 3].tolist() == [0, 0, 0, 1]
    assert np.allclose(hot[0, 2], 0.25)  # N -> UNK -> uniform
    assert hot[1, 2].tolist() == [0, 0, 0, 0]  # PAD -> zeros
    assert KmerTokenizer(k=1, alphabet="protein").one_hot(np.array([UNK])).sum() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="k=1"):
        KmerTokenizer(k=3).one_hot(tokens)


def test_decode_edges():
    tok = KmerTokenizer(k=3)
    assert tok.decode([]) == ""
    assert tok.decode(np.array([CLS, *tok.encode("ACGTA"), PAD, PAD])) == "ACGTA"
    assert tok.decode(tok.encode("ACGTNACGT")) == "ACGTNACGT"
    assert tok.decode(tok.encode("ACGTRACGT")) == "ACGTNACGT"  # ambiguity codes decode to N
    assert tok.decode(tok.encode("ACNGT")) == "NNNNN"  # letters covered only by UNK are lost
    assert KmerTokenizer(k=2, alphabet="protein").decode(
        KmerTokenizer(k=2, alphabet="protein").encode("MKXVL")) == "MKXVL"
    with pytest.raises(ValueError, match="token ids"):
        tok.decode([tok.vocab_size])
    with pytest.raises(ValueError, match="1-D"):
        tok.decode(np.zeros((2, 2), dtype=np.uint16))


def test_config_round_trip():
    tok = KmerTokenizer(k=4, alphabet="rna", stride=2, canonical=True, unknown="reject", short="empty")
    cfg = json.loads(json.dumps(tok.config()))
    assert cfg["name"] == "kmer" and cfg["vocab_size"] == tok.vocab_size
    again = KmerTokenizer.from_config(cfg)
    assert again == tok and hash(again) == hash(tok)
    assert again != KmerTokenizer(k=4, alphabet="rna", stride=2, canonical=True)
    assert "k=4" in repr(tok) and "vocab_size=140" in repr(tok)
    with pytest.raises(ConfigError, match="unknown key.*kay"):
        KmerTokenizer.from_config({"name": "kmer", "kay": 3})
    with pytest.raises(ConfigError, match="vocab_size"):
        KmerTokenizer.from_config({**cfg, "vocab_size": 7})
    with pytest.raises(ConfigError, match="'bpe'"):
        KmerTokenizer.from_config({"name": "bpe"})


def test_canonical_with_an_alphabet_whose_complement_is_not_reversed_order():
    from bioseq.alphabets import Alphabet

    odd = Alphabet("dna-actg", "ACTG", DNA.ambiguous, DNA.complement)  # takes the generic (non-bit) path
    tok = KmerTokenizer(k=3, alphabet=odd, canonical=True)
    seq = "ACGTTGCAAGGNCTTAACGGTAC"
    assert np.array_equal(tok.encode(DNA.reverse_complement(seq)), tok.encode(seq)[::-1])
    all_kmers = ["".join(p) for p in itertools.product("ACGT", repeat=3)]
    ids = {int(tok.encode(km)[0]) for km in all_kmers}
    assert ids == set(range(4, tok.vocab_size)) and tok.vocab_size == 4 + 32


def test_canonical_k8_matches_reference():
    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGTN"), p=[0.24, 0.24, 0.24, 0.24, 0.04], size=400))
    tok = KmerTokenizer(k=8, canonical=True)
    assert tok.dtype == np.uint16 and tok.vocab_size == 4 + (4**8 + 4**4) // 2
    assert tok.encode(seq).tolist() == ref_encode(seq, 8, "dna", 1, True)


@pytest.mark.slow
def test_canonical_k12():
    tok = KmerTokenizer(k=12, canonical=True)
    seq = "ACGTTGCAAGGCTTAACGGTACCAGGATTACA"
    assert np.array_equal(tok.encode(DNA.reverse_complement(seq)), tok.encode(seq)[::-1])
    assert tok.decode(tok.encode(seq)) == seq
    assert tok.encode("A" * 12)[0] == 4 and tok.encode("T" * 12)[0] == 4
