"""Benchmark: `callcenter backup` and `callcenter restore` throughput.

    .venv/bin/python scripts/bench_backup.py [--quick]

An installation on SQLite in a temporary directory, migrated, with a recordings store of
N files of call audio size (random bytes, each named by its SHA-256 as the store names
them; 100 KB ≈ 12 s of G.711 at 8 kHz). The real commands run as an operator runs them
(`python -m callcenter`, timed from start to exit): a backup to a directory, one to a
.tar.gz, and a restore of each into an empty second installation. Figures: seconds and
MB/s of recordings.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def installation(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "cc.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{folder}/cc.sqlite3"\n'
        f'[recordings]\nroot = "{folder}/rec"\n[speech]\nenabled = "off"\n'
    )
    return config


def timed(config: Path, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "callcenter", "--config", str(config), *args],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr}")
    return time.perf_counter() - started


def fill_store(root: Path, files: int, size: int) -> int:
    for _ in range(files):
        data = os.urandom(size)
        sha = hashlib.sha256(data).hexdigest()
        path = root / sha[:2] / sha[2:4] / f"{sha}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files * size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 files instead of 2,000")
    args = parser.parse_args()
    files, size = (200, 100_000) if args.quick else (2000, 100_000)
    work = Path(tempfile.mkdtemp(prefix="cc-bench-backup-"))
    try:
        source = installation(work / "source")
        timed(source, "db", "upgrade")
        total = fill_store(work / "source" / "rec", files, size)
        mb = total / 1e6
        print(f"{files} recordings of {size // 1000} KB ({mb:.0f} MB), SQLite")
        for shape in ("dir", "backup.tar.gz"):
            seconds = timed(source, "backup", "--to", str(work / shape))
            print(f"backup  --to {shape:14} {seconds:6.2f} s  {mb / seconds:6.1f} MB/s")
            target = installation(work / f"target-{shape}")
            seconds = timed(target, "restore", "--from", str(work / shape))
            print(f"restore --from {shape:12} {seconds:6.2f} s  {mb / seconds:6.1f} MB/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
