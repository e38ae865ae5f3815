"""Slots: a variant's variable texts taken out of its template, and the room reserved for them.

`Slots` is the stamping layer's `Texts` (bpquiz.sheets.variable): while a variant's context is
built, each variable text becomes an empty slot (`<span class="bq-slot">`) and is kept, in order.
`fill_reserves` then gives each slot of a skeleton's HTML its reserve: the widest text any variant
of the group puts there (`reserves_for`), hidden, so that WeasyPrint lays the slot out as wide as
it must be.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

from bpquiz.sheets.stamping.assemble import ALT_MARK
from bpquiz.sheets.variable import SvgText, Texts, estimated_width, room_for

MARK = "\u2063"
"""Starts every reserve text (U+2063, invisible separator): found outside its slot, it shows that
the template copied a slot's text somewhere stamping cannot reach."""
SLOT = "bq-slot"
RESERVE = "bq-reserve"
SLOT_CSS = f"""
.{SLOT} {{ display: inline-block !important; white-space: pre !important;
  text-indent: 0 !important; margin: 0 !important; padding: 0 !important; border: 0 !important;
  font-kerning: none !important; font-variant-ligatures: none !important; }}
.{RESERVE} {{ visibility: hidden !important; }}
"""
_SLOT_TAG = re.compile(rf'<span class="{SLOT}" data-slot="(\d+)"></span>')
_FILLED_SLOT = re.compile(
    rf'<span class="{SLOT}" data-slot="(\d+)">(?:<span class="{RESERVE}">.*?</span>)?</span>'
)
NAME_ROOM = 40
"""The most room (in digit widths) reserved for a name: a longer one is rendered whole, where it
wraps, rather than squeezing every student's page header and footer."""


class SlotText(Markup):
    """A variable text in a skeleton: renders as its slot, is false when the text is empty."""

    text: str

    def __new__(cls, index: int, text: str) -> SlotText:
        slot = super().__new__(cls, f'<span class="{SLOT}" data-slot="{index}"></span>')
        slot.text = text
        return slot

    def __bool__(self) -> bool:
        return bool(self.text)


@dataclass
class Slots(Texts):
    """Turns a variant's variable texts into slots while its template context is built."""

    texts: list[str] = field(default_factory=list)
    reserves: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    drawing: list[SvgText] = field(default_factory=list)
    alt: str = ""
    """The drawing's alternative text (written into its Figure element per variant)."""

    laid_out_once = True

    def __call__(self, text: str, kind: str = "number", like: str | None = None) -> SlotText:
        self.texts.append(text)
        self.reserves.append(room_for(text if like is None else like, kind))
        self.kinds.append(kind)
        return SlotText(len(self.texts) - 1, text)

    def draw(self, item: SvgText) -> None:
        self.drawing.append(item)

    def describe(self, text: str) -> str:
        self.alt = text
        return ALT_MARK

    def stamped(self) -> StampTexts:
        """What stamping needs of these slots: the texts, the drawing's texts and its words."""
        return StampTexts(tuple(self.texts), tuple(self.drawing), self.alt)


@dataclass(frozen=True)
class StampTexts:
    """One variant's texts for one skeleton (a class set keeps these, not its Slots)."""

    texts: tuple[str, ...]
    drawing: tuple[SvgText, ...]
    alt: str


@dataclass
class Group:
    """What the skeleton of a group of variants needs from their slots, gathered a variant at a
    time, so that a class set keeps each variant's texts and not its slots: the widest reserve
    per slot (as `reserves_for`), the slots' kinds, and every character the texts use."""

    kinds: list[str] = field(default_factory=list)
    widest: list[str | None] = field(default_factory=list)
    chars: set[str] = field(default_factory=set)
    count: int = 0

    def add(self, slots: Slots) -> None:
        if not self.count:
            self.kinds = list(slots.kinds)
            self.widest = [None] * len(slots.kinds)
        self.count += 1
        for k, (kind, text) in enumerate(zip(self.kinds, slots.reserves, strict=True)):
            if kind == "name" and estimated_width(text) > NAME_ROOM:
                continue
            best = self.widest[k]
            if best is None or estimated_width(text) > estimated_width(best):
                self.widest[k] = text
        for text in [*slots.texts, *slots.reserves, *(item.text for item in slots.drawing)]:
            self.chars.update(text)

    def merge(self, later: Group) -> None:
        """Add a later part of the same group (its variants come after this one's)."""
        if not self.count:
            self.kinds, self.widest = later.kinds, later.widest
            self.chars, self.count = later.chars, later.count
            return
        self.count += later.count
        self.chars |= later.chars
        for k, text in enumerate(later.widest):
            best = self.widest[k]
            if text is not None and (best is None or estimated_width(text) > estimated_width(best)):
                self.widest[k] = text

    def reserves(self) -> list[str]:
        """The same as `reserves_for` over the group's variants."""
        out = []
        for kind, widest in zip(self.kinds, self.widest, strict=True):
            text = "" if widest is None else widest
            out.append(text + "W" if kind == "name" and self.count > 1 else text)
        return out

    def extra(self) -> str:
        """The characters beyond BASE_CHARS that the group's texts and reserves use."""
        return "".join(sorted((self.chars | set("".join(self.reserves()))) - BASE_CHARS))


def reserves_for(groups: Sequence[Slots]) -> list[str]:
    """Per slot, what a group of variants' skeleton reserves: the widest of their reserves (for a
    name, with room for one more letter, as names are measured only roughly here, and no wider
    than NAME_ROOM)."""
    reserves = []
    for k, kind in enumerate(groups[0].kinds):
        texts = [g.reserves[k] for g in groups]
        if kind == "name":
            texts = [t for t in texts if estimated_width(t) <= NAME_ROOM] or [""]
        widest = max(texts, key=estimated_width)
        reserves.append(widest + "W" if kind == "name" and len(groups) > 1 else widest)
    return reserves


def fill_reserves(skeleton_html: str, reserves: Sequence[str]) -> str:
    """The skeleton HTML with each slot holding its reserve text, hidden, to be laid out."""

    def fill(match: re.Match[str]) -> str:
        k = int(match.group(1))
        return (
            f'<span class="{SLOT}" data-slot="{k}"><span class="{RESERVE}">{MARK}'
            f"{escape(reserves[k], quote=False)}</span></span>"
        )

    return _SLOT_TAG.sub(fill, skeleton_html)


def fill_title(title: str, texts: Mapping[int, str]) -> str:
    """A skeleton's document title (slots written out as markup) with a variant's texts; without
    them, the title with its variable part left out (for a class file)."""
    filled = _FILLED_SLOT.sub(lambda m: texts.get(int(m.group(1)), ""), title).replace(MARK, "")
    return filled if texts else filled.rstrip(" ·")


BASE_CHARS = frozenset(
    [chr(c) for c in range(0x20, 0x7F)]
    + list("−·×÷±√∂∑…–—‘’“”′½²³¹⁰⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻ⁿ₀₁₂₃₄₅₆₇₈₉₍₎₊₋ᵢⱼₖₗₘₙαβγδεηθλμπσφωΔΣ")
)
"""Characters every font document holds, so that a skeleton's fonts do not depend on the seed."""


def extra_chars(texts: Sequence[str]) -> str:
    """The characters of `texts` beyond BASE_CHARS, sorted."""
    return "".join(sorted(set("".join(texts)) - BASE_CHARS))


_SIMPLE_RANGES = (
    (0x20, 0x58F),  # Latin, IPA, Greek, Cyrillic, Armenian
    (0x1D00, 0x1DBF),  # phonetic extensions
    (0x1E00, 0x2BFF),  # Latin and Greek extended, punctuation, sub/superscripts, symbols
    (0x3000, 0x9FFF),  # CJK punctuation, kana, ideographs
    (0xAC00, 0xD7A3),  # Hangul syllables
    (0xFF01, 0xFFEF),  # full-width forms
)


def simple(text: str) -> bool:
    """Whether every character draws as one glyph on its own: no shaping, marks or right-to-left."""
    for ch in text:
        cp = ord(ch)
        if not any(lo <= cp <= hi for lo, hi in _SIMPLE_RANGES):
            return False
        if unicodedata.combining(ch) or unicodedata.bidirectional(ch) in ("R", "AL", "AN"):
            return False
        if unicodedata.category(ch) in ("Mn", "Mc", "Me", "Cf", "Cc"):
            return False
    return True
