"""The recordings store on disk: each file kept once, named by the SHA-256 of its bytes
(root/ab/cd/<sha256>.<ext>), never overwritten.

A file arrives under a temporary name in root/.incoming (the same file system), is fsynced,
and is then linked to its final name: link(2) is atomic and fails if the name exists, so a
half-written file is never visible and a stored one is never replaced. Blocking: the
service calls these in worker threads.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import time
import uuid
from pathlib import Path
from typing import IO, NoReturn

from callcenter.errors import Invalid, NotFound
from callcenter.recordings.model import blob_path

INCOMING = ".incoming"
_BLOCK = 1 << 20
_STALE_SECONDS = 24 * 3600  # temporary files this old were left by a process that died


class BadPath(Invalid):
    """A path we will not read a recording from."""


def incoming_dir(root: Path) -> Path:
    path = root / INCOMING
    path.mkdir(parents=True, exist_ok=True)
    return path


def temporary(root: Path, suffix: str = ".part") -> Path:
    return incoming_dir(root) / f"{uuid.uuid4().hex}{suffix}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_regular(path: Path, follow_links: bool = True) -> IO[bytes]:
    """Open a regular file for reading; refuse directories, devices, pipes and sockets
    (O_NONBLOCK: a FIFO must not hang us), and symbolic links unless `follow_links`."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags if follow_links else flags | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symbolic link
            raise BadPath("not-a-regular-file", f"{path} is a symbolic link") from None
        _refuse(path, exc)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BadPath("not-a-regular-file", f"{path} is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _refuse(path: Path, exc: OSError) -> NoReturn:
    if isinstance(exc, FileNotFoundError):
        raise NotFound("no-such-file", f"no such file: {path}") from None
    if isinstance(exc, IsADirectoryError):
        raise BadPath("not-a-regular-file", f"{path} is a directory") from None
    if isinstance(exc, PermissionError):
        raise BadPath("unreadable-file", f"no permission to read {path}") from None
    raise exc


def copy_in(src: IO[bytes], root: Path) -> tuple[Path, str, int]:
    """Copy an open file into a temporary file of the store, hashing it on the way:
    (temporary path, sha256, size). The copy is fsynced."""
    tmp = temporary(root)
    digest = hashlib.sha256()
    size = 0
    try:
        with tmp.open("xb") as out:
            while block := src.read(_BLOCK):
                digest.update(block)
                out.write(block)
                size += len(block)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, digest.hexdigest(), size


class IncomingFile:
    """An upload written to a temporary file of the store chunk by chunk, hashed on the way."""

    def __init__(self, root: Path) -> None:
        self.path = temporary(root)
        self._file: IO[bytes] = self.path.open("xb")
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, block: bytes) -> None:
        self._digest.update(block)
        self._file.write(block)
        self.size += len(block)

    def finish(self) -> str:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self._digest.hexdigest()

    def abandon(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


def hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def place(tmp: Path, root: Path, sha256: str, ext: str) -> Path:
    """Give a fsynced temporary file its final name. If a file of that name exists (the same
    bytes, stored before) it is kept as it is and the temporary one is dropped."""
    final = blob_path(root, sha256, ext)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(tmp, final)
    except FileExistsError:
        pass  # content-addressed: the same bytes are there already; never overwrite
    else:
        _fsync_dir(final.parent)
    tmp.unlink(missing_ok=True)
    return final


def remove(root: Path, sha256: str, ext: str) -> None:
    path = blob_path(root, sha256, ext)
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        _fsync_dir(path.parent)


def sweep_incoming(root: Path, now: float | None = None) -> int:
    """Remove temporary files a process that died left behind (older than a day: a
    `recording add` running beside the service may be writing the recent ones)."""
    folder = root / INCOMING
    if not folder.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - _STALE_SECONDS
    removed = 0
    for entry in os.scandir(folder):
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
    return removed
