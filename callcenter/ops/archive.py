"""Where a backup lives: a directory, or one tar file (`.tar`, `.tar.gz`, `.tgz`). Both hold
the same names: manifest.json, the database dump, recordings/ab/cd/<sha256>.<ext>.

Writers hash every file as they copy it (the manifest is written last: a backup without one
never finished). Readers hand out each regular file once, refusing anything else a tar or a
directory could hold (links, devices, names that climb out with `..`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from callcenter.ops.manifest import MANIFEST, BadBackup, FileEntry, copy_hashing, safe_name

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")


def is_tar(path: Path) -> bool:
    return path.name.endswith(TAR_SUFFIXES)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Writer(Protocol):
    def scratch(self) -> Path: ...
    def add(self, name: str, src: Path, move: bool = False) -> FileEntry: ...
    def finish(self, manifest: bytes) -> None: ...
    def abandon(self) -> None: ...


class DirWriter:
    """A backup directory: new, or empty (a mounted volume)."""

    def __init__(self, root: Path) -> None:
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise FileExistsError(f"{root} exists and is not an empty directory")
        root.mkdir(parents=True, exist_ok=True)
        self.root = root

    def scratch(self) -> Path:
        return self.root / f".scratch-{uuid.uuid4().hex}"

    def add(self, name: str, src: Path, move: bool = False) -> FileEntry:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if move:
            with src.open("rb") as fh:
                sha, size = copy_hashing(fh, None)
            src.rename(target)
        else:
            with src.open("rb") as fh, target.open("xb") as out:
                sha, size = copy_hashing(fh, out)
                out.flush()
                os.fsync(out.fileno())
        return FileEntry(name, sha, size)

    def finish(self, manifest: bytes) -> None:
        tmp = self.root / f".{MANIFEST}.partial"
        with tmp.open("wb") as out:
            out.write(manifest)
            out.flush()
            os.fsync(out.fileno())
        tmp.rename(self.root / MANIFEST)
        _fsync(self.root)

    def abandon(self) -> None:
        # What this run wrote; the directory itself may be a mount point.
        for child in self.root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


class _Hashing:
    """A file read by tarfile, hashed on the way."""

    def __init__(self, src: IO[bytes]) -> None:
        import hashlib

        self.src = src
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        block = self.src.read(n)
        self.digest.update(block)
        self.size += len(block)
        return block


class TarWriter:
    """One tar file, written under a temporary name and renamed when complete."""

    def __init__(self, path: Path) -> None:
        if path.exists():
            raise FileExistsError(f"{path} exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        # Closed in finish or abandon.
        if path.name.endswith(".tar"):
            self.tar = tarfile.open(self.partial, "w")
        else:
            self.tar = tarfile.open(self.partial, "w:gz")

    def scratch(self) -> Path:
        return self.path.with_name(f".{self.path.name}.scratch-{uuid.uuid4().hex}")

    def add(self, name: str, src: Path, move: bool = False) -> FileEntry:
        with src.open("rb") as fh:
            info = tarfile.TarInfo(name)
            info.size = os.fstat(fh.fileno()).st_size
            info.mtime = int(os.fstat(fh.fileno()).st_mtime)
            info.mode = 0o640
            reader = _Hashing(fh)
            self.tar.addfile(info, reader)
        if move:
            src.unlink()
        return FileEntry(name, reader.digest.hexdigest(), reader.size)

    def finish(self, manifest: bytes) -> None:
        import io

        info = tarfile.TarInfo(MANIFEST)
        info.size = len(manifest)
        info.mode = 0o640
        self.tar.addfile(info, io.BytesIO(manifest))
        self.tar.close()
        _fsync(self.partial)
        self.partial.rename(self.path)

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.tar.close()
        self.partial.unlink(missing_ok=True)


def writer_for(path: Path) -> Writer:
    return TarWriter(path) if is_tar(path) else DirWriter(path)


# -- reading ------------------------------------------------------------------------------
class Reader(Protocol):
    def files(self) -> Iterator[tuple[str, int, IO[bytes]]]: ...
    def read_manifest(self) -> bytes: ...


class DirReader:
    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self) -> Iterator[tuple[str, int, IO[bytes]]]:
        """(name, size, open file) for every file, in name order; refuses what is not a
        regular file."""
        for folder, dirs, names in os.walk(self.root, followlinks=False):
            dirs.sort()
            here = Path(folder)
            for name in [*dirs, *names]:
                path = here / name
                relative = path.relative_to(self.root).as_posix()
                if path.is_symlink():
                    raise BadBackup(relative, "a symbolic link (a backup holds only files)")
                if name in dirs:
                    continue
                if not path.is_file():
                    raise BadBackup(relative, "not a regular file")
            for name in sorted(names):
                path = here / name
                relative = path.relative_to(self.root).as_posix()
                with path.open("rb") as fh:
                    yield relative, os.fstat(fh.fileno()).st_size, fh

    def read_manifest(self) -> bytes:
        path = self.root / MANIFEST
        if not path.is_file():
            raise BadBackup(MANIFEST, "missing: not a backup, or one that did not finish")
        return path.read_bytes()


class TarReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def files(self) -> Iterator[tuple[str, int, IO[bytes]]]:
        try:
            with tarfile.open(self.path, "r:*") as tar:
                for member in tar:
                    name = member.name.removeprefix("./")
                    if member.isdir() and safe_name(name.rstrip("/")):
                        continue
                    if not member.isfile():
                        raise BadBackup(name, "not a regular file (a backup holds only files)")
                    if not safe_name(name):
                        raise BadBackup(name, "not a safe relative path")
                    fh = tar.extractfile(member)
                    assert fh is not None
                    yield name, member.size, fh
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise BadBackup(self.path.name, f"cannot be read as a tar file: {exc}") from None

    def read_manifest(self) -> bytes:
        for name, _size, fh in self.files():
            if name == MANIFEST:
                return fh.read()
        raise BadBackup(MANIFEST, "missing: not a backup, or one that did not finish")


def reader_for(path: Path) -> Reader:
    if path.is_dir():
        return DirReader(path)
    if path.is_file():
        return TarReader(path)
    raise FileNotFoundError(f"no backup at {path}")
