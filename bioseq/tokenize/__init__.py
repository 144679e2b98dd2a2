"""Tokenizers: the vectorised k-mer tokenizer and the tokenizer registry.

The alphabets live one layer lower, in :mod:`bioseq.alphabets` (readers need
them too); they are re-exported here for convenience.
"""

from bioseq.alphabets import DNA, PROTEIN, RNA, Alphabet, get_alphabet
from bioseq.tokenize.kmer import CLS, MASK, PAD, UNK, KmerTokenizer, reverse_complement
from bioseq.tokenize.registry import TOKENIZERS, check_tokenizer, tokenizer_from_config

__all__ = [
    "CLS",
    "DNA",
    "MASK",
    "PAD",
    "PROTEIN",
    "RNA",
    "TOKENIZERS",
    "UNK",
    "Alphabet",
    "KmerTokenizer",
    "check_tokenizer",
    "get_alphabet",
    "reverse_complement",
    "tokenizer_from_config",
]
