import pytest

from bioseq.alphabets import DNA, PROTEIN, RNA, get_alphabet
from bioseq.errors import ConfigError


def test_lookup_is_case_insensitive():
    assert get_alphabet("DNA") is DNA
    assert get_alphabet(PROTEIN) is PROTEIN


def test_unknown_alphabet_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown alphabet 'xna'"):
        get_alphabet("xna")


def test_reverse_complement_dna_and_rna():
    assert DNA.reverse_complement("AACGTN") == "NACGTT"
    assert RNA.reverse_complement("AACGU") == "ACGUU"
    assert DNA.reverse_complement("RYKM") == "KMRY"


def test_reverse_complement_keeps_soft_masking_case():
    assert DNA.reverse_complement("acgR") == "Ycgt"
    assert RNA.reverse_complement("AACGu") == "aCGUU"


def test_reverse_complement_keeps_characters_outside_the_alphabet():
    assert DNA.reverse_complement("A-C.") == ".G-T"


def test_reverse_complement_of_protein_is_a_config_error_naming_the_alphabet():
    with pytest.raises(ConfigError, match="alphabet 'protein' has no complement"):
        PROTEIN.reverse_complement("ACD")


def test_letters_and_ambiguity_codes_are_disjoint():
    for a in (DNA, RNA, PROTEIN):
        assert not set(a.letters) & set(a.ambiguous)
