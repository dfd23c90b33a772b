"""The README's pictures, taken from the demo as anyone can run it: the daily report form
(yesterday's, which the demo writes) and the wallboard after a few minutes of the simulated
hotline. A throw-away service in a temporary folder (SQLite, embedded broker, free ports);
the pictures go to docs/img/.

    .venv/bin/python scripts/screenshots.py [--minutes 3] [--out docs/img]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
CALLCENTER = str(ROOT / ".venv" / "bin" / "callcenter")
PASSWORD = "screenshots-only-1"  # a throw-away service on loopback, deleted afterwards


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def configure(folder: Path) -> tuple[Path, str]:
    web = free_port()
    config = folder / "callcenter.toml"
    config.write_text(
        f"""
[web]
listen = "127.0.0.1:{web}"
[database]
url = "sqlite+aiosqlite:///{folder}/callcenter.sqlite3"
spill_dir = "{folder}/spill"
[recordings]
root = "{folder}/recordings"
[mqtt]
embedded_listen = "127.0.0.1:{free_port()}"
[sip]
hep_listen = "127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
""",
        encoding="utf-8",
    )
    return config, f"http://127.0.0.1:{web}"


def cli(config: Path, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [CALLCENTER, "--config", str(config), *args],
        input=stdin, capture_output=True, text=True, check=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    return done.stdout


def wait_healthy(base: str, within: float = 60) -> None:
    until = time.monotonic() + within
    while time.monotonic() < until:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the service did not answer on {base} within {within:.0f} s")


async def shoot(base: str, token: str, out: Path) -> None:
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        context = await browser.new_context(
            locale="zh-CN", viewport={"width": 1280, "height": 900}, device_scale_factor=1
        )
        page = await context.new_page()
        await page.goto(f"{base}/login")
        await page.locator("#name").fill("demo")
        await page.locator("#password").fill(PASSWORD)
        await page.locator("#login-submit").click()
        await page.wait_for_url(f"{base}/")
        await page.goto(f"{base}/reports")  # yesterday's daily report
        await page.locator("#form-title").wait_for()
        await page.wait_for_load_state("networkidle")
        await page.locator("#form").screenshot(path=str(out / "report-daily.png"))
        charts = page.locator("#charts")
        await charts.scroll_into_view_if_needed()
        await page.wait_for_load_state("networkidle")
        await charts.screenshot(path=str(out / "report-charts.png"))

        tv = await browser.new_context(
            locale="zh-CN", viewport={"width": 1600, "height": 900}, device_scale_factor=1
        )
        board = await tv.new_page()
        await board.goto(f"{base}/wallboard?token={token}")
        await board.wait_for_load_state("networkidle")
        await asyncio.sleep(3)  # the first live message, and the charts drawn
        await board.screenshot(path=str(out / "wallboard.png"))
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="of the demo before the board")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="callcenter-shots-") as tmp:
        folder = Path(tmp)
        config, base = configure(folder)
        cli(config, "db", "upgrade")
        cli(config, "user", "add", "demo", "--role", "supervisor", stdin=PASSWORD + "\n")
        for ext in ("2001", "2002", "2003", "2004"):
            cli(config, "user", "add", f"agent{ext}", "--role", "agent", "--extension", ext,
                "--work-number", f"A{ext}", stdin=PASSWORD + "\n")  # fmt: skip
        log = (folder / "serve.log").open("w")
        serve = subprocess.Popen(
            [CALLCENTER, "--config", str(config), "serve", "--demo"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        try:
            wait_healthy(base)
            made = cli(config, "wallboard", "create", "大厅电视")
            found = re.search(r"^token: (\S+)", made, re.M)
            if not found:
                raise SystemExit(f"no token in: {made}")
            print(f"the demo runs for {args.minutes:g} min before the pictures", file=sys.stderr)
            time.sleep(args.minutes * 60)
            asyncio.run(shoot(base, found.group(1), args.out))
        finally:
            os.killpg(serve.pid, signal.SIGTERM)
            serve.wait(timeout=60)
            log.close()
    for name in ("report-daily.png", "report-charts.png", "wallboard.png"):
        print(args.out / name)


if __name__ == "__main__":
    main()
