"""Write files so that readers never see a half-written one.

Every output bioseq produces (prediction tables, model bundles, metrics,
caches) is written to a temporary file in the destination's directory and
renamed over the destination only when complete (``os.replace`` is atomic on
POSIX within one filesystem). An interrupted run leaves the previous file, or
none, never a truncated one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def temp_beside(dest: Path) -> Path:
    """Create an empty temporary file ``.<name>.<random>.tmp`` in ``dest``'s directory
    (parents created): on the same filesystem, so :func:`put_in_place` is a rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    return Path(tmp)


def put_in_place(tmp: Path, dest: Path, fsync: bool = True) -> None:
    """Move the finished ``tmp`` onto ``dest`` in one atomic step (after an fsync, so a
    crash right after the rename cannot leave an empty file under the final name)."""
    if fsync:
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)


def discard_temp(tmp: Path) -> None:
    """Remove a temporary file that will not be used (already gone is fine)."""
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    On an exception the temporary file is removed and ``path`` is untouched.
    Parent directories are created.
    """
    dest = Path(path)
    tmp_path = temp_beside(dest)
    try:
        yield tmp_path
        put_in_place(tmp_path, dest, fsync)
    except BaseException:
        discard_temp(tmp_path)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs) -> Iterator:
    """Open a temporary file for writing; rename it onto ``path`` when the block succeeds."""
    if not mode.startswith(("w", "x")):
        raise ValueError("atomic_open is for writing ('w' or 'wb')")
    with atomic_path(path) as tmp, open(tmp, mode.replace("x", "w"), **kwargs) as fh:
        yield fh


class AtomicWriter:
    """The one writer protocol of bioseq: ``write(batch)`` then ``close()``, atomic.

    Every streaming output (prediction tables, embedding exports, caches,
    training logs) is a subclass: ``write(batch)`` appends one batch (each
    writer documents its batch type), ``close()`` finishes the file and puts it
    in place, ``abort()`` throws the partial output away. Used as a context
    manager, a clean exit closes and an exception aborts, so an interrupted run
    never leaves a truncated file where the output belongs (kipoi's writers,
    with the atomic rename made part of the contract).

    Subclasses implement :meth:`write`, :meth:`_commit` and :meth:`_discard`;
    :meth:`close` and :meth:`abort` make sure each runs at most once.
    """

    _finished = False

    def write(self, batch) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _commit(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _discard(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Finish the output and move it into place (a second call does nothing)."""
        if not self._finished:
            self._finished = True
            try:
                self._commit()
            except BaseException:
                self._discard()
                raise

    def abort(self) -> None:
        """Discard everything written so far; the destination is left as it was."""
        if not self._finished:
            self._finished = True
            self._discard()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


class AtomicTextWriter(AtomicWriter):
    """An :class:`AtomicWriter` of one UTF-8 text file (tables, JSON lines).

    The temporary file beside ``path`` is opened at construction; subclasses
    write through :meth:`_handle` and implement :meth:`write`. ``close()``
    puts the file in place, ``abort()`` removes it.

    Args:
        path: the destination; parent directories are created.
        fsync: flush the data to disk before the rename (off for files that are
            cheap to remake).
    """

    def __init__(self, path: str | os.PathLike[str], fsync: bool = True) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._tmp = temp_beside(self.path)
        self._fh: IO[str] = open(self._tmp, "w", encoding="utf-8", newline="\n")

    def _handle(self) -> IO[str]:
        """The open temporary file; writing after ``close()``/``abort()`` is a programming error."""
        if self._finished:
            raise RuntimeError(f"{type(self).__name__} for {self.path} is already closed")
        return self._fh

    def _commit(self) -> None:
        self._fh.close()
        put_in_place(self._tmp, self.path, self._fsync)

    def _discard(self) -> None:
        self._fh.close()
        discard_temp(self._tmp)
