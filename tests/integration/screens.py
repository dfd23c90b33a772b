"""Comparing a page's picture with a committed reference, with a tolerance: anti-aliased text
that renders a shade differently passes; a broken layout (a column gone, a table overflowing,
wrapped headers doubling a row) fails. CALLCENTER_UPDATE_SCREENSHOTS=1 writes the reference
instead of comparing."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
# A change of height beyond this is a layout change (a row doubled, a block added or lost).
MOST_HEIGHT_CHANGE = 0.01
# Compared at a quarter of the size, so a glyph drawn a pixel aside does not count; a cell
# differs when its grey level moved by more than LEVEL, and at most SHARE of them may.
SCALE = 4
LEVEL = 40
SHARE = 0.01


def updating() -> bool:
    return os.environ.get("CALLCENTER_UPDATE_SCREENSHOTS") == "1"


@dataclass(frozen=True, slots=True)
class Difference:
    share: float  # of the reduced picture's pixels that differ beyond LEVEL
    size: tuple[int, int]
    reference_size: tuple[int, int]


def _reduced(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image.convert("L").resize(size, Image.Resampling.BOX)


def difference(actual: Image.Image, reference: Image.Image) -> Difference:
    size = (max(1, reference.width // SCALE), max(1, reference.height // SCALE))
    diff = ImageChops.difference(_reduced(actual, size), _reduced(reference, size))
    histogram = diff.histogram()
    moved = sum(histogram[LEVEL + 1 :])
    return Difference(moved / (size[0] * size[1]), actual.size, reference.size)


def assert_looks_like(png: bytes, name: str, artifacts: Path) -> None:
    """The picture `png` matches screenshots/`name`; on failure the actual picture and the
    difference are saved under `artifacts` and named in the message."""
    reference_path = SCREENSHOTS / name
    actual = Image.open(io.BytesIO(png)).convert("RGB")
    if updating():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        actual.save(reference_path, optimize=True)
        return
    assert reference_path.exists(), (
        f"no reference {reference_path}: run once with CALLCENTER_UPDATE_SCREENSHOTS=1"
    )
    reference = Image.open(reference_path).convert("RGB")
    artifacts.mkdir(parents=True, exist_ok=True)
    actual_path = artifacts / f"actual-{name}"
    actual.save(actual_path)
    same_width = actual.width == reference.width
    height_change = abs(actual.height - reference.height) / reference.height
    assert same_width and height_change <= MOST_HEIGHT_CHANGE, (
        f"{name}: the picture is {actual.size}, the reference {reference.size}: the layout "
        f"changed size; actual: {actual_path}"
    )
    found = difference(actual, reference)
    if found.share > SHARE:
        diff_path = artifacts / f"diff-{name}"
        ImageChops.difference(actual.resize(reference.size), reference).save(diff_path)
        raise AssertionError(
            f"{name}: {found.share:.2%} of the picture differs from the reference (at most "
            f"{SHARE:.0%}); actual: {actual_path}, difference: {diff_path}"
        )
