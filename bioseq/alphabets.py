"""Alphabets for DNA, RNA and protein and the policy for ambiguous letters.

One abstraction serves all three (as in Selene's ``Sequence``): the canonical
letters (which get their own k-mer ids, in this order), the ambiguity codes that
are *recognised* but carry no single letter (IUPAC ``N``, ``R``, ``Y``...; ``X``,
``B``, ``Z``... for protein), and the complement map where one exists.

Policy (``unknown=``):

* ``"map"`` (default): an ambiguity code becomes the unknown letter, so every
  k-mer that covers it is the tokenizer's ``UNK`` token.
* ``"reject"``: an ambiguity code raises :class:`~bioseq.errors.AlphabetError`.

Letters that are neither canonical nor ambiguity codes (a protein fed to a DNA
model, a gap ``-``, a digit) are always an error: they mean the wrong alphabet or
a corrupt file, and silently mapping them would hide that. Lowercase
(soft-masked) letters are upper-cased first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bioseq.errors import ConfigError

UNKNOWN_POLICIES = ("map", "reject")


@dataclass(frozen=True)
class Alphabet:
    """A sequence alphabet.

    Attributes:
        name: registry name (``"dna"``, ``"rna"``, ``"protein"``).
        letters: canonical upper-case letters; a letter's index is its code.
        ambiguous: upper-case ambiguity codes mapped to "unknown" (or rejected).
        complement: letter -> complementary letter, for nucleic acids only.
    """

    name: str
    letters: str
    ambiguous: str
    complement: dict[str, str] | None = field(default=None, compare=False)
    # str.translate table of the complement, both cases (built once, in __post_init__)
    _rc_table: dict[int, int] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.complement is not None:
            pairs = {**self.complement, **{x.lower(): y.lower() for x, y in self.complement.items()}}
            object.__setattr__(self, "_rc_table", str.maketrans(pairs))

    @property
    def size(self) -> int:
        """Number of canonical letters (4 for DNA, 20 for protein)."""
        return len(self.letters)

    @property
    def has_complement(self) -> bool:
        return self.complement is not None

    def reverse_complement(self, seq: str) -> str:
        """Reverse complement of a nucleic-acid sequence, preserving case (soft-masking).

        The one implementation in bioseq (reverse-complement augmentation,
        ``--both-strands`` prediction). IUPAC ambiguity codes map to their
        complement codes (``R<->Y``, ``N->N``...); other characters are kept as
        they are. One ``translate`` and one slice: no Python code per letter.

        Raises:
            ConfigError: the alphabet has no complement (protein), naming it.
        """
        if self._rc_table is None:
            raise ConfigError(
                f"alphabet {self.name!r} has no complement: reverse complement needs a nucleic-acid alphabet"
            )
        return seq.translate(self._rc_table)[::-1]


_IUPAC_NUCLEOTIDE_AMBIGUITY = "NRYSWKMBDHV"
_IUPAC_COMPLEMENT = {"R": "Y", "Y": "R", "S": "S", "W": "W", "K": "M", "M": "K",
                     "B": "V", "V": "B", "D": "H", "H": "D", "N": "N"}

DNA = Alphabet(
    name="dna",
    letters="ACGT",
    ambiguous=_IUPAC_NUCLEOTIDE_AMBIGUITY,
    complement={"A": "T", "C": "G", "G": "C", "T": "A", **_IUPAC_COMPLEMENT},
)
RNA = Alphabet(
    name="rna",
    letters="ACGU",
    ambiguous=_IUPAC_NUCLEOTIDE_AMBIGUITY,
    complement={"A": "U", "C": "G", "G": "C", "U": "A", **_IUPAC_COMPLEMENT},
)
PROTEIN = Alphabet(
    name="protein",
    letters="ACDEFGHIKLMNPQRSTVWY",
    # X unknown, B (D/N), Z (E/Q), J (I/L), U selenocysteine, O pyrrolysine,
    # '*' a stop (common at the end of translated ORFs).
    ambiguous="XBZJUO*",
)

ALPHABETS: dict[str, Alphabet] = {a.name: a for a in (DNA, RNA, PROTEIN)}


def get_alphabet(name: str | Alphabet) -> Alphabet:
    """Return the alphabet called ``name`` (``dna``, ``rna``, ``protein``; case-insensitive)."""
    if isinstance(name, Alphabet):
        return name
    try:
        return ALPHABETS[name.lower()]
    except KeyError:
        raise ConfigError(f"unknown alphabet {name!r}; choose one of {', '.join(ALPHABETS)}") from None


# Inferring the alphabet of unlabelled letters (``bioseq train`` without --alphabet).
# A sample is DNA/RNA when (1) every letter is a nucleotide or an IUPAC nucleotide
# ambiguity code and (2) A, C, G, T/U are at least NUCLEOTIDE_FRACTION of its letters
# other than N (a run of N is a gap in an assembly, but N is also asparagine). Rule (1)
# alone would call a short peptide of A/C/G/T/D/H/K/M/R/S/V/W/Y "DNA"; rule (2) cannot be
# met by a protein, whose A, C, G and T make up about a quarter of the residues (UniProt:
# A 8.3, C 1.4, G 7.1, T 5.3 %), while sequenced DNA carries IUPAC codes at well under
# 1 %. So one R (or a few percent of codes) in DNA keeps it DNA, and any letter outside
# the nucleotide codes (E, F, I, L, P, Q, X, *...) makes it protein.
NUCLEOTIDE_FRACTION = 0.5
_NUCLEOTIDE_CODES = frozenset("ACGTU" + _IUPAC_NUCLEOTIDE_AMBIGUITY)


def infer_alphabet(seqs: Iterable[str]) -> str:
    """``dna`` or ``rna`` (by whether T or U is commoner) for nucleotides plus IUPAC codes, else ``protein``.

    See :data:`NUCLEOTIDE_FRACTION` for the rule and its justification. An empty
    sample, or one of N only, is ``dna``.
    """
    letters: set[str] = set()
    total = n = t = u = acg = 0
    for s in seqs:
        s = s.upper()
        letters.update(s)
        total += len(s)
        n, t, u = n + s.count("N"), t + s.count("T"), u + s.count("U")
        acg += s.count("A") + s.count("C") + s.count("G")
    if not letters <= _NUCLEOTIDE_CODES:
        return "protein"
    if total > n and (acg + t + u) / (total - n) < NUCLEOTIDE_FRACTION:
        return "protein"
    return "rna" if u > t else "dna"
