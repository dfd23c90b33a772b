"""`callcenter backup --to PATH` and `callcenter restore --from PATH [--force]`.

Exit status: 0 done; 1 the backup is refused (a file altered, missing or added: named),
nothing touched; 2 usage (a bad path, another engine, an unknown schema); 3 the target is
not empty (without --force) or in use, nothing touched; 4 the database cannot be reached,
a tool is missing or failed, or the restore finished with a problem (the audit log's chain
broken, recordings' files missing)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from callcenter.config import Settings
from callcenter.ops import backup, databases, restore
from callcenter.ops.archive import TAR_SUFFIXES, reader_for
from callcenter.ops.manifest import BadBackup

COMMANDS = ("backup", "restore")
EXIT_REFUSED, EXIT_USAGE, EXIT_NOT_EMPTY, EXIT_FAILED = 1, 2, 3, 4


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    b = sub.add_parser(
        "backup",
        parents=[common],
        help="the database and the recordings store, with every file's SHA-256 (safe while "
        "the service runs)",
    )
    b.add_argument(
        "--to",
        required=True,
        type=Path,
        metavar="DIR|FILE",
        help=f"a new or empty directory, or a new file ending {', '.join(TAR_SUFFIXES)}",
    )
    r = sub.add_parser(
        "restore",
        parents=[common],
        help="check a backup file by file, then restore the database and recordings (stop "
        "the service first)",
    )
    r.add_argument("--from", dest="source", required=True, type=Path, metavar="DIR|FILE")
    r.add_argument(
        "--force",
        action="store_true",
        help="replace a database and store that are not empty (what the backup lacks is lost)",
    )


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def run_backup(settings: Settings, to: Path) -> int:
    # Residents' numbers and voices: the backup is readable by its owner only.
    umask = os.umask(0o077)
    try:
        made = backup.make_backup(settings.database_url, settings.recordings_root, to)
    except FileExistsError as exc:
        _err(f"--to: {exc}; give a new path")
        return EXIT_USAGE
    except (databases.DatabaseError, OSError) as exc:
        _err(f"backup failed: {exc}; nothing was kept")
        return EXIT_FAILED
    finally:
        os.umask(umask)
    m = made.manifest
    for problem in made.problems:
        print(f"warning: {problem} (damaged on disk; backed up as it is)", file=sys.stderr)
    print(
        f"backup written to {to}: {m.engine} database (schema {m.revision or '-'}, "
        f"{_size(m.database.size)}), {len(m.recordings)} recording files "
        f"({_size(made.recording_bytes)})"
    )
    print(f"manifest sha256 {made.manifest_sha256}  (keep it apart to check the backup later)")
    return 0


def run_restore(settings: Settings, source: Path, force: bool) -> int:
    url, root = settings.database_url, settings.recordings_root
    try:
        reader = reader_for(source)
        manifest = restore.read_manifest(reader, url)
        busy = restore.in_use(url)
        if busy:
            _err(f"{busy}; nothing was restored")
            return EXIT_NOT_EMPTY
        what = restore.occupied(url, root)
        if what and not force:
            _err(f"the target is not empty: {'; '.join(what)}. Nothing was restored; "
                 "--force replaces them with the backup")  # fmt: skip
            return EXIT_NOT_EMPTY
        restore.verify(reader, manifest)
        print(f"backup checked: {len(manifest.recordings) + 1} files match the manifest")
        for line in what:
            print(f"replacing: {line}")
        done = restore.restore(reader, manifest, url, root, force)
    except FileNotFoundError as exc:
        _err(f"--from: {exc}")
        return EXIT_USAGE
    except BadBackup as exc:
        _err(f"backup refused: {exc.name}: {exc.reason}. Nothing was restored")
        return EXIT_REFUSED
    except restore.Unsuitable as exc:
        _err(f"{exc}; nothing was restored")
        return EXIT_USAGE
    except (databases.DatabaseError, OSError) as exc:
        _err(f"restore failed: {exc}")
        return EXIT_FAILED
    return _report(done)


def _report(done: restore.Restored) -> int:
    m = done.manifest
    print(
        f"restored the {m.engine} database (schema {m.revision or '-'}, backup of "
        f"{m.created_at}) and {len(m.recordings)} recording files: {done.written} written, "
        f"{done.kept} already there"
        + (f", {done.replaced} replaced" if done.replaced else "")
        + (f"; {done.removed} files not in the backup removed" if done.removed else "")
    )
    for note in done.notes:
        print(f"warning: {note}", file=sys.stderr)
    status = 0
    if done.audit is not None:
        if done.audit.intact:
            print(f"audit log: chain intact ({done.audit.entries} entries), "
                  f"head {done.audit.head_hash}")  # fmt: skip
        else:
            _err(f"audit log: chain broken: {done.audit.problem}")
            status = EXIT_FAILED
    if done.missing_files:
        _err(f"{len(done.missing_files)} recordings' files are missing from the store, "
             f"e.g. {done.missing_files[0]}")  # fmt: skip
        status = EXIT_FAILED
    if done.upgrade_needed:
        print("the backup's schema is older than this version's: run `callcenter db upgrade`")
    return status
