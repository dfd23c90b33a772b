"""SVG drawing for the charts, pure and deterministic: every text escaped, numbers in one
fixed format, axis ticks on round steps, a colour-blind-safe palette with a fill pattern per
series (never colour alone). No <style> and no script: presentation attributes only, so the
API's Content-Security-Policy (default-src 'none') leaves the drawing as it is."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

# Okabe & Ito's palette, told apart by the common colour-vision deficiencies.
BLUE = "#0072B2"
ORANGE = "#E69F00"
VERMILION = "#D55E00"
GREEN = "#009E73"
SKY = "#56B4E9"
GREY = "#7A7A7A"
INK = "#1A1A1A"
MUTED = "#4D4D4D"
GRID = "#D9D9D9"
PAPER = "#FFFFFF"
# CJK first: Chinese labels and station names must not fall back to boxes.
FONT = (
    "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'Microsoft YaHei', "
    "'PingFang SC', 'WenQuanYi Micro Hei', sans-serif"
)

Fill = Literal["solid", "diagonal", "cross", "dots"]
# Characters XML 1.0 forbids even escaped (C0 controls but tab, LF, CR; lone surrogates;
# U+FFFE/U+FFFF): names are data, and one of them must not make the document unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def esc(text: str) -> str:
    """Text or attribute value, escaped for XML (quotes too)."""
    return (
        clean(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def num(x: float) -> str:
    """A coordinate: one decimal at most, never "-0" or an exponent."""
    text = f"{round(x, 1):.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def ticks(top: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2, 5 × 10ⁿ; whole numbers for counts) up to at least `top`."""
    if not top > 1 or not math.isfinite(top):  # steps are whole: nothing finer than 0, 1
        return [0.0, 1.0]
    rough = top / count
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    step = max(step, 1.0)
    n = max(1, math.ceil(top / step - 1e-9))
    return [i * step for i in range(n + 1)]


def label(x: float) -> str:
    """A figure for people: whole numbers without decimals, thousands not separated (the
    form does not separate them either)."""
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.1f}"


def tick_label(x: float) -> str:
    """An axis tick, short enough to stand beside its neighbours: 2500, 25k, 2.5M, 2.5G
    (the figures themselves are written out in full on the bars)."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e4, "k")):
        if abs(x) >= size:
            scale = 1e3 if suffix == "k" else size
            return label(round(x / scale, 1)) + suffix
    return label(x)


def text_width(text: str, size: float) -> float:
    """Roughly how wide `text` is drawn: CJK and other wide characters one em, the rest
    about 0.6 em. Enough to keep labels inside their column."""
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in "WF")
    return (wide + 0.6 * (len(text) - wide)) * size


def fit(text: str, size: float, width: float) -> str:
    """`text`, cut with "…" to fit `width`."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


@dataclass
class Canvas:
    """One SVG document being drawn; `uid` prefixes its ids (two charts inlined in one page
    must not share a pattern's id)."""

    width: int
    height: int
    uid: str
    parts: list[str] = field(default_factory=list)
    fills: dict[str, str] = field(default_factory=dict)

    def paint(self, colour: str, pattern: Fill) -> str:
        """The fill attribute value for `colour` drawn with `pattern`."""
        if pattern == "solid":
            return colour
        pid = f"{self.uid}-{pattern}-{colour.lstrip('#').lower()}"
        if pid not in self.fills:
            self.fills[pid] = _pattern(pid, colour, pattern)
        return f"url(#{pid})"

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def rect(
        self, x: float, y: float, w: float, h: float, fill: str, *, stroke: str | None = None,
        tip: str | None = None, cls: str | None = None, data: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        attrs = f'x="{num(x)}" y="{num(y)}" width="{num(max(w, 0))}" height="{num(max(h, 0))}"'
        attrs += f' fill="{esc(fill)}"'
        if stroke:
            attrs += f' stroke="{esc(stroke)}" stroke-width="1.5"'
        attrs += _extra(cls, data)
        if tip is None:
            self.add(f"<rect {attrs}/>")
        else:
            self.add(f"<rect {attrs}><title>{esc(tip)}</title></rect>")

    def line(
        self, x1: float, y1: float, x2: float, y2: float, stroke: str = INK, width: float = 1,
        dash: str | None = None, cls: str | None = None,
    ) -> None:  # fmt: skip
        attrs = f'x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}"'
        attrs += f' stroke="{stroke}" stroke-width="{num(width)}"'
        if dash:
            attrs += f' stroke-dasharray="{dash}"'
        self.add(f"<line {attrs}{_extra(cls, None)}/>")

    def polyline(
        self, points: Sequence[tuple[float, float]], stroke: str, width: float = 3,
        dash: str | None = None, cls: str | None = None,
    ) -> None:  # fmt: skip
        pts = " ".join(f"{num(x)},{num(y)}" for x, y in points)
        attrs = f'points="{pts}" fill="none" stroke="{stroke}" stroke-width="{num(width)}"'
        attrs += ' stroke-linejoin="round"'
        if dash:
            attrs += f' stroke-dasharray="{dash}"'
        self.add(f"<polyline {attrs}{_extra(cls, None)}/>")

    def marker(
        self, shape: Literal["circle", "square", "diamond"], x: float, y: float, r: float,
        fill: str, tip: str | None = None, cls: str | None = None,
        data: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        if shape == "circle":
            tag, attrs = "circle", f'cx="{num(x)}" cy="{num(y)}" r="{num(r)}"'
        elif shape == "square":
            tag = "rect"
            attrs = f'x="{num(x - r)}" y="{num(y - r)}" width="{num(2 * r)}" height="{num(2 * r)}"'
        else:
            tag = "polygon"
            corners = ((x, y - r), (x + r, y), (x, y + r), (x - r, y))
            attrs = 'points="' + " ".join(f"{num(a)},{num(b)}" for a, b in corners) + '"'
        attrs += f' fill="{fill}" stroke="{PAPER}" stroke-width="1.5"{_extra(cls, data)}'
        if tip is None:
            self.add(f"<{tag} {attrs}/>")
        else:
            self.add(f"<{tag} {attrs}><title>{esc(tip)}</title></{tag}>")

    def text(
        self, x: float, y: float, text: str, size: float = 16, *, anchor: str = "start",
        bold: bool = False, fill: str = INK, cls: str | None = None, rotate: bool = False,
        halo: bool = False,
    ) -> None:  # fmt: skip
        attrs = f'x="{num(x)}" y="{num(y)}" font-size="{num(size)}" fill="{fill}"'
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        if bold:
            attrs += ' font-weight="bold"'
        if halo:  # legible on a hatched bar: a white outline drawn under the glyphs
            attrs += f' stroke="{PAPER}" stroke-width="4" paint-order="stroke"'
        if rotate:
            attrs += f' transform="rotate(-90 {num(x)} {num(y)})"'
        self.add(f"<text {attrs}{_extra(cls, None)}>{esc(text)}</text>")

    def document(self, title: str, desc: str) -> str:
        """The whole SVG: role img, named by its <title> and described by its <desc> (the
        same figures in words, for screen readers)."""
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" '
            f'height="{self.height}" viewBox="0 0 {self.width} {self.height}" role="img" '
            f'aria-labelledby="{self.uid}-title {self.uid}-desc" font-family="{esc(FONT)}">'
        )
        defs = "".join(self.fills[k] for k in sorted(self.fills))
        return "\n".join(
            [
                head,
                f'<title id="{self.uid}-title">{esc(title)}</title>',
                f'<desc id="{self.uid}-desc">{esc(desc)}</desc>',
                f"<defs>{defs}</defs>" if defs else "<defs/>",
                f'<rect width="{self.width}" height="{self.height}" fill="{PAPER}"/>',
                *self.parts,
                "</svg>",
                "",
            ]
        )


def _extra(cls: str | None, data: dict[str, str] | None) -> str:
    out = f' class="{esc(cls)}"' if cls else ""
    for key in sorted(data or {}):
        out += f' data-{key}="{esc((data or {})[key])}"'
    return out


_PEN = 'stroke-width="2.5"'


def _pattern(pid: str, colour: str, kind: Fill) -> str:
    """A light tint of the colour with marks in it: hatched, cross-hatched or dotted."""
    body = f'<rect width="10" height="10" fill="{colour}" fill-opacity="0.35"/>'
    if kind in ("diagonal", "cross"):
        body += f'<path d="M-2,2 l4,-4 M0,10 l10,-10 M8,12 l4,-4" stroke="{colour}" {_PEN}/>'
    if kind == "cross":
        body += f'<path d="M-2,8 l4,4 M0,0 l10,10 M8,-2 l4,4" stroke="{colour}" {_PEN}/>'
    if kind == "dots":
        body += f'<circle cx="5" cy="5" r="2.4" fill="{colour}"/>'
    return (
        f'<pattern id="{pid}" width="10" height="10" patternUnits="userSpaceOnUse">{body}</pattern>'
    )


def legend(
    canvas: Canvas, x: float, y: float, items: Sequence[tuple[str, str]], size: float = 18
) -> None:
    """Swatches (a fill attribute value each) with their labels, left to right."""
    for fill, text in items:
        canvas.rect(x, y - size + 3, size, size, fill, stroke=MUTED, cls="legend-swatch")
        canvas.text(x + size + 8, y, text, size, cls="legend")
        x += size + 8 + text_width(text, size) + 28


def heading(canvas: Canvas, title: str, subtitle: str) -> None:
    canvas.text(40, 50, title, 30, bold=True, cls="title")
    canvas.text(40, 84, subtitle, 19, fill=MUTED, cls="subtitle")


def note(canvas: Canvas, x: float, y: float, text: str) -> None:
    """A message across an empty plot ("no calls")."""
    canvas.text(x, y, text, 28, anchor="middle", bold=True, fill=MUTED, cls="empty")
