"""Write files so that readers never see a half-written one, and never over an input.

Every output bioseq produces (prediction tables, model bundles, metrics,
caches) is written to a temporary file in the destination's directory and
renamed over the destination only when complete (``os.replace`` is atomic on
POSIX within one filesystem). An interrupted run leaves the previous file, or
none, never a truncated one.

Temporary files are named ``.<name>.<host>~<pid>~<random>.tmp``. A run killed
before its rename leaves one behind; the next successful write of the same
output removes every such file whose process (on this host) is gone
(:func:`remove_stale_temps`). Temporaries of live processes, and of other
hosts sharing the directory, are left alone.

:func:`refuse_to_overwrite` is checked by every command before any work: an
output that is one of the command's inputs (the same path, or a hard or
symbolic link to it) is an error, so ``bioseq predict M in.fa -o in.fa`` can
never destroy ``in.fa``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from bioseq.errors import ConfigError

_HOST = socket.gethostname().replace("~", "-").replace("/", "-") or "host"


def temp_beside(dest: Path) -> Path:
    """Create an empty temporary file ``.<name>.<host>~<pid>~<random>.tmp`` in ``dest``'s
    directory (parents created): on the same filesystem, so :func:`put_in_place` is a rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.{_HOST}~{os.getpid()}~", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    return Path(tmp)


def remove_stale_temps(dest: str | os.PathLike[str], *, any_process: bool = False) -> list[Path]:
    """Delete the temporaries of ``dest`` left by processes that no longer run; return them.

    A temporary counts as stale when it was made on this host by a process that
    has exited. ``any_process=True`` (for a caller holding an exclusive lock on
    ``dest``, so that no other writer can be mid-write) removes every temporary
    of ``dest`` made on this host.
    """
    dest = Path(dest)
    prefix = f".{dest.name}.{_HOST}~"
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(dest.parent):
            if not (name.startswith(prefix) and name.endswith(".tmp")):
                continue
            pid = name[len(prefix):].split("~", 1)[0]
            if not pid.isdigit() or (not any_process and _alive(int(pid))):
                continue
            with contextlib.suppress(FileNotFoundError):
                (dest.parent / name).unlink()
                removed.append(dest.parent / name)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def refuse_to_overwrite(outputs: Iterable[Any], inputs: Iterable[Any]) -> None:
    """Raise :class:`~bioseq.errors.ConfigError` when an output would replace an input,
    or two outputs are the same file.

    ``outputs`` and ``inputs`` are paths, lists of paths or None; ``"-"``
    (stdout/stdin) is skipped. Two names are the same file when they resolve
    to the same path (symbolic links, ``..``) or, both existing, share an inode
    (hard links).
    """
    outs, ins = _paths(outputs), _paths(inputs)
    for i, out in enumerate(outs):
        for other in outs[:i]:
            if _same_file(out, other):
                raise ConfigError(f"two outputs are the same file ({other} and {out})", path=out)
        for src in ins:
            if _same_file(out, src):
                what = "is also an input" if out == src else f"is the same file as the input {src}"
                raise ConfigError(
                    f"this output {what}: refusing to overwrite an input; choose another output", path=out
                )


def _paths(values: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, (list, tuple)):
            out += _paths(v)
        elif isinstance(v, (str, os.PathLike)) and os.fspath(v) not in ("-", ""):
            out.append(os.fspath(v))
    return out


def _same_file(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def put_in_place(tmp: Path, dest: Path, fsync: bool = True) -> None:
    """Move the finished ``tmp`` onto ``dest`` in one atomic step (after an fsync, so a
    crash right after the rename cannot leave an empty file under the final name)."""
    if fsync:
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)
    remove_stale_temps(dest)


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
