"""`callcenter stations check` and `stations route` as an operator runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "stations.toml"


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_passes_the_sample_book(tmp_path: Path) -> None:
    result = run(tmp_path, "stations", "check", "--file", str(SAMPLE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "17 stations" in result.stdout and "no problems" in result.stdout


def test_check_reports_overlaps_unused_rules_and_idle_stations_and_fails(tmp_path: Path) -> None:
    (tmp_path / "book.toml").write_text(
        '[[station]]\ncode = "a"\nname = "甲"\nphone = "1"\n'
        '[[station]]\ncode = "b"\nname = "乙"\nphone = "2"\n'
        '[[station]]\ncode = "c"\nname = "丙"\nphone = "3"\n'
        '[[rule]]\nstation = "a"\ncommunity = "幸福里"\nbuildings = "1-20"\n'
        '[[rule]]\nstation = "b"\ncommunity = "幸福里"\nbuildings = "10-30"\n'
        '[[rule]]\nstation = "b"\nstreet = "幸福里"\n',
        encoding="utf-8",
    )
    result = run(tmp_path, "stations", "check", "--file", "book.toml")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("overlap: rule 1") and "10-20" in line for line in lines)
    assert any(line.startswith("unreachable: rule 3") for line in lines)
    assert any(line.startswith("no-rule: station c") for line in lines)


def test_check_of_a_broken_book_names_the_key_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "book.toml").write_text(
        '[[station]]\ncode = "a"\nname = "甲"\nphone = "1"\n'
        '[[rule]]\nstation = "nowhere"\ncommunity = "幸福里"\n',
        encoding="utf-8",
    )
    result = run(tmp_path, "stations", "check", "--file", "book.toml")
    assert result.returncode == 2
    assert "rule 1.station" in result.stderr


def test_route_prints_the_standard_form_and_the_station(tmp_path: Path) -> None:
    result = run(tmp_path, "stations", "route", "幸福里三栋2-502", "--file", str(SAMPLE))
    assert result.returncode == 0
    assert result.stdout.split("\t")[:3] == [
        "城关区幸福路幸福里3号楼2单元502室",
        "matched",
        "xingfu",
    ]
