"""Per-residue embeddings of a training run, held once: in memory, or in a temporary file when large.

Why: light attention trains on every residue's embedding, and the frozen
encoder is by far the expensive part, so each training and validation sequence
is embedded once and its ``(L_i, D)`` rows reused by every epoch. float16
halves the memory; beyond :data:`IN_MEMORY_BYTES` (DeepLoc's ~14k proteins x
~550 residues x 1280 ESM-2 dimensions would be ~20 GB) the rows live in an
anonymous temporary file mapped into memory (``np.memmap``), deleted when the
store is dropped, so the page cache rather than the heap holds them.
"""

from __future__ import annotations

import tempfile

import numpy as np

IN_MEMORY_BYTES = 2 << 30


class ResidueStore:
    """``seq -> float16 (L, D)`` rows in one preallocated ``(total_rows, D)`` array.

    Args:
        total_rows: rows needed by every sequence that will be added (sum of their row counts).
        dim: D.
        in_memory_bytes: above this the array is a memory-mapped temporary file.
    """

    def __init__(self, total_rows: int, dim: int, in_memory_bytes: int = IN_MEMORY_BYTES) -> None:
        shape = (max(1, int(total_rows)), int(dim))
        self.on_disk = shape[0] * shape[1] * 2 > in_memory_bytes
        if self.on_disk:
            self._file = tempfile.TemporaryFile(prefix="bioseq-residues-")
            self.rows = np.memmap(self._file, dtype=np.float16, mode="w+", shape=shape)
        else:
            self.rows = np.empty(shape, np.float16)
        self._where: dict[str, tuple[int, int]] = {}
        self._used = 0
        self.filling = False  # set while a training run adds its sequences

    def __contains__(self, seq: object) -> bool:
        return seq in self._where

    def __len__(self) -> int:
        return len(self._where)

    def add(self, seq: str, array: np.ndarray) -> None:
        """Store ``array`` ``(L, D)`` for ``seq`` (once; a second add of the same sequence is ignored)."""
        if seq in self._where:
            return
        n = len(array)
        if self._used + n > len(self.rows):
            raise ValueError(f"residue store full: {self._used} + {n} rows > {len(self.rows)}")
        self.rows[self._used:self._used + n] = array
        self._where[seq] = (self._used, n)
        self._used += n

    def get(self, seq: str) -> np.ndarray:
        """The stored ``(L, D)`` float16 rows of ``seq`` (a view)."""
        start, n = self._where[seq]
        return self.rows[start:start + n]
