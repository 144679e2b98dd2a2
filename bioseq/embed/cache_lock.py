"""Coordination of parallel writers on one cache through ``fcntl.flock`` on ``<cache>.lock``.

A writer holds the lock *shared* while it writes its own segments and takes it
*exclusive* (without waiting) to fold; see :mod:`bioseq.embed.cache`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from bioseq.embed.cache_format import lock_path
from bioseq.errors import CacheError

try:  # POSIX only; elsewhere concurrent writers must use per-job caches + merge.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class _Lock:
    """``flock`` on ``<cache>.lock``: shared while writing segments, exclusive to fold.

    The last writer deletes the lock file while holding it exclusively, so no
    stray ``.lock`` files accumulate. That is safe because every acquisition
    checks that the file it locked is still the one at the path (same inode);
    if it was deleted meanwhile, it starts again on a new lock file.
    """

    def __init__(self, cache: Path, create: bool) -> None:
        self.cache, self.path, self.create = cache, lock_path(cache), create
        self.fd: int | None = None
        self.held = False
        self._open()

    def _open(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        try:
            flags = os.O_RDWR | os.O_CREAT if self.create else os.O_RDONLY
            self.fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if self.create:
                raise CacheError(f"cannot create the lock file {self.path}: {exc}", path=self.cache) from exc
            self.fd = None  # read-only location or no writer: nothing to coordinate with

    def _still_linked(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        fst = os.fstat(self.fd)
        return (st.st_ino, st.st_dev) == (fst.st_ino, fst.st_dev)

    def acquire(self, exclusive: bool, blocking: bool = True) -> bool:
        op = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) if fcntl is not None else 0
        while True:
            if self.fd is None:
                self.held = True
                return True
            try:
                fcntl.flock(self.fd, op | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                self.held = False
                return False
            if self._still_linked():
                self.held = True
                return True
            # the last writer deleted this lock file while we waited: lock the current one
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
            self._open()

    def remove(self) -> None:
        """Delete the lock file; call only while holding it exclusively."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.held = False

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
