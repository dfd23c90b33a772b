"""Screenshot comparison against a committed reference PNG (Pillow): a tolerance per pixel and
a small share of pixels allowed to differ, so anti-aliasing noise in text passes while a
missing or misdrawn bar fails. CALLCENTER_UPDATE_SCREENSHOTS=1 writes the reference from the
screenshot instead (then look at it before committing it). On a failure the actual image,
the reference and a diff (differing pixels in red over a faded reference) are written next
to each other for a person to look at.

A whole page's text wraps a pixel differently more often than a chart's: its comparison
(`scale`) is of the pictures reduced `scale` times, and its height may move a little
(`height_share`): a wrapped header doubling a row's height, a column lost, still fail."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops

UPDATE = "CALLCENTER_UPDATE_SCREENSHOTS"
# A channel differing by more than this is a differing pixel; below it is rendering noise.
CHANNEL_TOLERANCE = 48
# At most this share of the pixels may differ (0.1 %: ~950 pixels of a 1200×790 chart; one
# hourly bar is ~1,500).
MAX_SHARE = 0.001


@dataclass(frozen=True, slots=True)
class Difference:
    size_matches: bool
    differing: int  # pixels
    total: int

    @property
    def share(self) -> float:
        return self.differing / self.total if self.total else 1.0


def difference(
    actual: Image.Image, expected: Image.Image, scale: int = 1, height_share: float = 0.0
) -> tuple[Difference, Image.Image]:
    """How far `actual` is from `expected`, and a picture of where."""
    a, e = actual.convert("RGB"), expected.convert("RGB")
    close = a.width == e.width and abs(a.height - e.height) <= height_share * e.height
    if a.size != e.size and not close:
        return Difference(False, a.width * a.height, a.width * a.height), a
    if scale > 1:
        reduced = (max(1, e.width // scale), max(1, e.height // scale))
        a, e = (i.resize(reduced, Image.Resampling.BOX) for i in (a, e))
    else:
        a = a.resize(e.size)
    delta = ImageChops.difference(a, e)
    # The largest channel difference of each pixel, then differing or not.
    worst = ImageChops.lighter(ImageChops.lighter(*delta.split()[:2]), delta.split()[2])
    mask = worst.point(lambda v: 255 if v > CHANNEL_TOLERANCE else 0)
    differing = mask.histogram()[255]
    faded = Image.blend(e, Image.new("RGB", e.size, "white"), 0.7)
    faded.paste(Image.new("RGB", e.size, (220, 0, 0)), mask=mask)
    return Difference(True, differing, a.width * a.height), faded


def assert_matches(
    png: bytes,
    reference: Path,
    out_dir: Path,
    max_share: float = MAX_SHARE,
    scale: int = 1,
    height_share: float = 0.0,
) -> None:
    """The screenshot `png` looks like the committed `reference` (or becomes it, when
    CALLCENTER_UPDATE_SCREENSHOTS=1)."""
    actual = Image.open(io.BytesIO(png))
    if os.environ.get(UPDATE) == "1":
        reference.parent.mkdir(parents=True, exist_ok=True)
        actual.save(reference, optimize=True)
        return
    assert reference.exists(), f"no reference {reference}: run with {UPDATE}=1 and look at it"
    with Image.open(reference) as expected:
        found, picture = difference(actual, expected, scale, height_share)
        if found.size_matches and found.share <= max_share:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = reference.stem
        actual.save(out_dir / f"{stem}-actual.png")
        expected.save(out_dir / f"{stem}-expected.png")
        picture.save(out_dir / f"{stem}-diff.png")
    what = (
        f"{found.differing} of {found.total} pixels ({found.share:.3%}) differ, at most "
        f"{max_share:.3%} may"
        if found.size_matches
        else f"size {actual.size}, reference {expected.size}"
    )
    raise AssertionError(f"{reference.name}: {what}; see {out_dir}/{stem}-{{actual,diff}}.png")
