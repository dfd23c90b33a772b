"""The images the compose stack needs, made here where no image registry is reachable.

Stand-ins under the official names docker/compose.yaml uses: ``debian:bookworm-slim`` from
``debootstrap --variant=minbase`` (slimmed as the official image is), ``postgres:16`` and
``eclipse-mosquitto:2`` built on it from Debian's packages (``standins/``). Then the
project's own: the service image from a wheelhouse built on this host
(``docker/build-wheelhouse.sh``), and the example Kamailio. Builds reach Debian's mirror
through the host's network; they fetch nothing else.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.docker.engine import PrivateDocker, cache_dir, docker_client

REPO = Path(__file__).resolve().parents[2]
STANDINS = Path(__file__).resolve().parent / "standins"
DEBIAN = "debian:bookworm-slim"
RECIPE_LABEL = "org.callcenter.standin-recipe"
MAX_AGE_DAYS = 30  # then the Debian stand-in (and all built on it) is made again: security updates
SERVICE_IMAGE = "callcenter:latest"
BUILD_STAGE_IMAGE = "callcenter-build:latest"
KAMAILIO_IMAGE = "callcenter-kamailio:latest"
OPS_IMAGE = "callcenter-ops:latest"

# What the official slim image does to a minimal Debian (debuerreotype --slimify): no
# documentation but the copyright files, no manuals, no translations, no apt caches.
DPKG_EXCLUDES = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
"""
APT_CONF = {
    "docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
    ),
    "docker-no-languages": 'Acquire::Languages "none";\n',
    "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
}
SLIM_REMOVES = (
    "var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "usr/share/man/*", "usr/share/info/*",
    "usr/share/locale/*", "etc/resolv.conf", "etc/hostname",
)  # fmt: skip
SOURCES = """\
Types: deb
URIs: {debian}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: {security}
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def apt_mirrors() -> tuple[str, str]:
    """The Debian and Debian security mirrors this host's apt is configured with."""
    debian, security = "http://deb.debian.org/debian", "http://deb.debian.org/debian-security"
    texts = [p.read_text() for p in Path("/etc/apt").glob("sources.list*") if p.is_file()]
    texts += [p.read_text() for p in Path("/etc/apt/sources.list.d").glob("*") if p.is_file()]
    for text in texts:
        # one-line format: deb URI SUITE COMPONENTS; deb822: URIs: / Suites: per stanza
        entries = re.findall(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", text, re.MULTILINE)
        for stanza in text.split("\n\n"):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.MULTILINE)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.MULTILINE)
            if uris and suites:
                entries += [(uris.group(1), suite) for suite in suites.group(1).split()]
        for uri, suite in entries:
            if suite == "bookworm":
                debian = uri
            elif suite == "bookworm-security":
                security = uri
    return debian, security


def ensure_standins(engine: PrivateDocker, work: Path) -> dict[str, float]:
    """Make the three stand-ins unless the cache has current ones; seconds each took."""
    timings = {}
    started = time.monotonic()
    mirrors = apt_mirrors()
    recipe = hashlib.sha256(
        repr((DPKG_EXCLUDES, APT_CONF, SLIM_REMOVES, SOURCES, mirrors)).encode()
    )
    recipe_id = recipe.hexdigest()[:16]
    if not _current(engine, recipe_id):
        _build_debian(engine, work / "rootfs", mirrors, recipe_id)
    timings[DEBIAN] = time.monotonic() - started
    for name, folder in (("postgres:16", "postgres"), ("eclipse-mosquitto:2", "mosquitto")):
        started = time.monotonic()
        build(engine, name, STANDINS / folder)
        timings[name] = time.monotonic() - started
    # The ops image's base (docker/Dockerfile): the same PostgreSQL under its bookworm tag.
    engine.docker("tag", "postgres:16", "postgres:16-bookworm")
    return timings


def _current(engine: PrivateDocker, recipe: str) -> bool:
    done = engine.docker(
        "image", "inspect", DEBIAN, "--format",
        "{{index .Config.Labels \"" + RECIPE_LABEL + "\"}} {{.Created}}",
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return False
    label, created = done.stdout.split()
    made = datetime.fromisoformat(created[:26].rstrip("Z") + "+00:00")
    return label == recipe and (datetime.now(UTC) - made).days < MAX_AGE_DAYS


def _build_debian(
    engine: PrivateDocker, rootfs: Path, mirrors: tuple[str, str], recipe: str
) -> None:
    shutil.rmtree(rootfs, ignore_errors=True)
    debian, security = mirrors
    _run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), debian], timeout=900)
    (rootfs / "etc/dpkg/dpkg.cfg.d/docker").write_text(DPKG_EXCLUDES)
    for name, text in APT_CONF.items():
        (rootfs / "etc/apt/apt.conf.d" / name).write_text(text)
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(
        SOURCES.format(debian=debian, security=security)
    )
    for pattern in SLIM_REMOVES:
        for path in rootfs.glob(pattern):
            _remove(path)
    for doc in (rootfs / "usr/share/doc").iterdir():
        for path in doc.iterdir() if doc.is_dir() and not doc.is_symlink() else []:
            if path.name != "copyright":
                _remove(path)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    assert tar.stdout is not None
    imported = subprocess.run(
        [docker_client(), "import", "--change", 'CMD ["bash"]',
         "--change", f"LABEL {RECIPE_LABEL}={recipe}", "-", DEBIAN],
        stdin=tar.stdout, env=engine.env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    tar.stdout.close()
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)
    if imported.returncode != 0 or tar.returncode != 0:
        raise AssertionError(f"docker import of {DEBIAN} failed: {imported.stderr[-2000:]}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _run(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        argv, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        output = done.stdout[-2000:] + done.stderr[-2000:]
        raise AssertionError(f"{' '.join(argv)} failed:\n{output}")


def build(engine: PrivateDocker, tag: str, context: Path, *extra: str) -> None:
    # --network host: apt inside the build reaches Debian's mirror the way this host does.
    engine.docker("build", "--network", "host", "-t", tag, *extra, str(context), timeout=1200)


def build_project_images(engine: PrivateDocker) -> dict[str, float]:
    """The wheelhouse (on this host, Python 3.11), the service, ops and Kamailio images."""
    timings = {}
    started = time.monotonic()
    build_wheelhouse()
    timings["wheelhouse"] = time.monotonic() - started
    started = time.monotonic()
    # The build stage tagged too, so that pruning the old images keeps its layers as the
    # next run's cache (an untagged last stage would be pruned as dangling).
    dockerfile = str(REPO / "docker/Dockerfile")
    build(engine, BUILD_STAGE_IMAGE, REPO, "-f", dockerfile, "--target", "build")
    build(engine, SERVICE_IMAGE, REPO, "-f", dockerfile)
    timings[SERVICE_IMAGE] = time.monotonic() - started
    started = time.monotonic()
    build(engine, OPS_IMAGE, REPO, "-f", dockerfile, "--target", "ops")
    timings[OPS_IMAGE] = time.monotonic() - started
    started = time.monotonic()
    build(engine, KAMAILIO_IMAGE, REPO / "docker/kamailio")
    timings[KAMAILIO_IMAGE] = time.monotonic() - started
    return timings


def build_wheelhouse() -> None:
    """docker/build-wheelhouse.sh, offline from the last run's wheels when they still satisfy
    pyproject.toml (asking the package index for 30 distributions costs 10-30 s), else
    online, keeping what it fetched for the next run."""
    script = [str(REPO / "docker/build-wheelhouse.sh")]
    cache = cache_dir() / "wheels"
    if cache.is_dir() and time.time() - cache.stat().st_mtime > MAX_AGE_DAYS * 86400:
        shutil.rmtree(cache)
    offline = {"PYTHON": sys.executable, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(cache)}
    if cache.is_dir() and _succeeds(script, offline):
        return
    _run(script, 600, {"PYTHON": sys.executable})
    fresh = cache.with_name("wheels.new")
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(REPO / "docker/wheelhouse/deps", fresh)
    # what pip's isolated build of the service's own wheel needs (pyproject's build-system)
    _run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(fresh),
          "setuptools>=77"], 300)  # fmt: skip
    shutil.rmtree(cache, ignore_errors=True)
    fresh.rename(cache)


def _succeeds(argv: list[str], env: dict[str, str]) -> bool:
    done = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, timeout=600)
    return done.returncode == 0


def image_size(engine: PrivateDocker, tag: str) -> int:
    return int(engine.docker("image", "inspect", tag, "--format", "{{.Size}}").stdout)
