"""Tokenizers: the vectorised k-mer tokenizer and the tokenizer registry.

The alphabets live one layer lower, in :mod:`bioseq.alphabets` (readers need
them too); they are re-exported here for convenience.
"""

from bioseq.alphabets import DNA, PROTEIN, RNA, Alphabet, get_alphabet
from bioseq.tokenize.kmer import CLS, MASK, N_SPECIAL, PAD, UNK, KmerTokenizer
from bioseq.tokenize.registry import TOKENIZERS, check_tokenizer, tokenizer_from_config

__all__ = [
    "CLS",
    "DNA",
    "MASK",
    "N_SPECIAL",
    "PAD",
    "PROTEIN",
    "RNA",
    "TOKENIZERS",
    "UNK",
    "Alphabet",
    "KmerTokenizer",
    "check_tokenizer",
    "get_alphabet",
    "tokenizer_from_config",
]
