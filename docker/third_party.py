"""List the third-party software the image ships, with each one's licence, as Markdown.

Run inside the image, where it reads what is really installed: the Python distributions of
the service's environment (their metadata) and the Debian packages (dpkg's status and each
package's /usr/share/doc/PACKAGE/copyright):
    docker run --rm --entrypoint python3 callcenter /usr/local/lib/callcenter/third_party.py
"""

import re
import sys
from importlib import metadata
from pathlib import Path

DPKG_STATUS = Path("/var/lib/dpkg/status")
DOC = Path("/usr/share/doc")
# Plain-text copyright files that are not in the machine-readable format: the licence is
# recognised by these phrases (most specific first).
PHRASES = (
    ("GNU Lesser General Public License", "LGPL"),
    ("GNU Library General Public License", "LGPL"),
    ("GNU Affero General Public License", "AGPL"),
    ("GNU General Public License", "GPL"),
    ("Apache License", "Apache"),
    ("Artistic License", "Artistic"),
    ("Mozilla Public License", "MPL"),
    ("Permission is hereby granted, free of charge", "MIT"),
    ("Redistribution and use in source and binary forms", "BSD"),
    ("Permission to use, copy, modify", "MIT-style (X11/HPND permission notice)"),
    ("public domain", "public-domain"),
)


def _field(dist: metadata.Distribution, name: str) -> str:
    values = dist.metadata.get_all(name) or []
    return str(values[0]) if values else ""


def python_licence(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = _field(dist, "License-Expression")
    if expression:
        return expression
    classifiers = [
        c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")
    ]
    text = _field(dist, "License").strip()
    if text and "\n" not in text and len(text) <= 80:
        return text
    if classifiers:
        return ", ".join(classifiers)
    return "see its dist-info LICENSE file" if text else "not declared"


def python_rows() -> list[tuple[str, str, str]]:
    rows = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() != "callcenter":
            rows[name.lower()] = (name, dist.version, python_licence(dist))
    return sorted(rows.values(), key=lambda row: row[0].lower())


def installed_packages() -> list[tuple[str, str]]:
    packages = []
    for stanza in DPKG_STATUS.read_text(encoding="utf-8").split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", stanza, flags=re.MULTILINE))
        if fields.get("Status", "").endswith(" installed"):
            packages.append((fields["Package"], fields["Version"]))
    return sorted(packages)


def debian_licence(package: str) -> str:
    path = DOC / package / "copyright"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "no copyright file"
    if text.startswith("Format:"):
        # The machine-readable format: every paragraph's License: line, first use order.
        names = re.findall(r"^License: *(\S.*?)\s*$", text, flags=re.MULTILINE)
        unique = list(dict.fromkeys(names))
        if unique:
            return ", ".join(unique)
    found = [short for phrase, short in PHRASES if phrase.lower() in text.lower()]
    return ", ".join(dict.fromkeys(found)) or f"see {path}"


def table(header: tuple[str, str, str], rows: list[tuple[str, str, str]]) -> list[str]:
    lines = [f"| {' | '.join(header)} |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c.replace('|', '/')} |" for a, b, c in rows]
    return lines


def main() -> int:
    python = python_rows()
    debian = [(name, version, debian_licence(name)) for name, version in installed_packages()]
    out = [
        "# Third-party software in the callcenter image",
        "",
        "Generated inside the image by `docker/third_party.py` (see docker/README.md); the",
        "service itself is GPL-3.0-or-later (LICENSE). The full terms ship in the image:",
        "each Debian package's in `/usr/share/doc/PACKAGE/copyright`, each Python",
        "distribution's in its `*.dist-info` directory under `/opt/callcenter/lib/python3.11/`.",
        "Versions are those of the image this list was made from.",
        "",
        "The ops image (`callcenter-ops`, backup and restore) is the official",
        "`postgres:16-bookworm` image (PostgreSQL: the PostgreSQL Licence; its Debian",
        "packages' terms in its own `/usr/share/doc`) with Debian's `python3` and the same",
        "Python environment as below. Built with `docker/build-wheelhouse.sh speech` or",
        "`probe`, the image also ships those extras' distributions (faster-whisper and its",
        "dependencies, the Whisper weights; pyVoIP, GPL-3.0): list them again from that image.",
        "",
        f"## Python distributions ({len(python)})",
        "",
        *table(("distribution", "version", "licence"), python),
        "",
        f"## Debian packages ({len(debian)})",
        "",
        *table(("package", "version", "licence (its copyright file)"), debian),
    ]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
