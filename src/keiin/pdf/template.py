"""Contract PDFs generated from structured data, with Japanese text.

:func:`generate_contract` turns a :class:`ContractTemplate` (title, parties, amount, term,
clauses, signatories) into an A4 PDF ready for :func:`keiin.pdf.signing.certify`, and says
where the signature fields go (:attr:`GeneratedContract.signature_boxes`): one box for the
operator's seal and one per signatory, all on the last page.

The layers, bottom up:

* **input checks** (:class:`ContractTemplate`): NFC normalisation, lengths, and no control or
  invisible formatting characters (bidi overrides could disguise contract text);
* **font metrics** (:class:`_FontMetrics`): glyph advances from the embedded OpenType font
  (IPAex Gothic by default), and which characters it cannot show
  (:class:`UnsupportedCharacterError`, or a substitute if the caller asks for one);
* **line breaking** (:func:`break_lines`): by glyph advance width, per character in Japanese
  and per word in Latin text, with simple kinsoku shori (no 、。）」 at the start of a
  line, no （「 at its end; 、。 may hang into the margin);
* **layout** (:class:`_Layout`): pages of positioned text runs and frames;
* **rendering** (:func:`_render`): content streams with pyHanko's ``GlyphAccumulator`` (a
  subset Type 0 font with a ``ToUnicode`` map, so the text can be extracted), written by
  pyHanko's :class:`~pyhanko.pdf_utils.writer.PdfFileWriter`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Literal

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

from keiin.pdf.fonts import PerMilleGlyphAccumulator
from keiin.pdf.stamp import StampFontError, default_japanese_font

__all__ = [
    "A4",
    "ContractTemplate",
    "GeneratedContract",
    "SignatureBox",
    "UnsupportedCharacterError",
    "break_lines",
    "format_date",
    "format_yen",
    "generate_contract",
]

#: A4 portrait in PDF points (210 mm x 297 mm).
A4: tuple[float, float] = (595.276, 841.89)

#: Longest accepted values, in characters (after NFC normalisation).
MAX_TITLE = 100
MAX_NAME = 100
MAX_REFERENCE = 64
MAX_BODY = 100_000
MAX_SIGNATORIES = 8
#: Most pages a generated contract may have (so that blank lines cannot make thousands).
MAX_PAGES = 200
#: Largest accepted amount in yen (just under 10^15: a 19-character "¥" figure).
MAX_AMOUNT = 10**15 - 1

#: Unicode categories refused in every field: controls, invisible format characters (bidi
#: overrides, zero-width joiners, soft hyphen), surrogates, private use, unassigned, and
#: line/paragraph separators. Only ``"\n"`` is allowed, in the body.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

#: Characters that must not start a line (gyōtō kinsoku), a common subset of JIS X 4051.
NO_LINE_START = frozenset(
    "、。，．・：；？！゛゜ヽヾゝゞ々ー）］｝」』】〕〉》〙〗〟’”"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ"
    ",.:;?!)]}"
)
#: Characters that must not end a line (gyōmatsu kinsoku).
NO_LINE_END = frozenset("（［｛「『【〔〈《〘〖〝‘“([{")
#: Punctuation allowed to hang past the right margin instead of starting a line.
HANGING = frozenset("、。，．,.")
#: At most this many characters are pulled down to the next line for kinsoku.
KINSOKU_MAX_PULL = 2

#: Clause headings such as 第1条 or 第十二条 get extra space above them.
CLAUSE_HEADING = re.compile(r"^[ \u3000]*第[0-9０-９一二三四五六七八九十百千]+条")

#: The closing sentence above the signature boxes (standard wording for e-contracts).
CLOSING_TEXT = (
    "本契約の成立を証するため、本電磁的記録を作成し、甲乙がそれぞれ電子署名を行い、"
    "各自その電磁的記録を保管する。"
)

# Page geometry (PDF points).
MARGIN_LEFT = 56.69  # 20 mm
MARGIN_RIGHT = 56.69
MARGIN_TOP = 70.87  # 25 mm
MARGIN_BOTTOM = 70.87
FOOTER_BASELINE = 36.0
HEADER_BASELINE = A4[1] - 36.0

TITLE_SIZE = 18.0
BODY_SIZE = 10.5
SMALL_SIZE = 8.0
LABEL_SIZE = 9.0
LINE_SPACING = 1.7

#: Signature box size: the default stamp rectangle of :mod:`keiin.pdf.stamp` (220 x 60).
SIGNATURE_BOX_SIZE = (220, 60)
SIGNATURE_LABEL_GAP = 4.0
SIGNATURE_ROW_GAP = 18.0

GRAY_TEXT = 0.35
GRAY_RULE = 0.6


class UnsupportedCharacterError(ValueError):
    """The text has characters the font cannot show; ``characters`` lists them (distinct, in
    order of appearance) and ``field`` names the template field."""

    def __init__(self, field_name: str, characters: Sequence[str], font_name: str) -> None:
        shown = ", ".join(f"U+{ord(c):04X} {_printable(c)}" for c in characters[:10])
        more = f" and {len(characters) - 10} more" if len(characters) > 10 else ""
        super().__init__(
            f"{field_name}: the font {font_name} cannot show these characters: {shown}{more}"
        )
        self.field = field_name
        self.characters = tuple(characters)


def _printable(char: str) -> str:
    return repr(char) if char.isprintable() else "(invisible)"


# --------------------------------------------------------------------------------------
# Input


def _check_text(name: str, value: object, *, limit: int, multiline: bool = False) -> str:
    """``value`` NFC-normalised and checked, or ``ValueError`` naming the field."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", value)
    if len(text) > limit:
        raise ValueError(f"{name} is too long: {len(text)} characters, at most {limit}")
    for position, char in enumerate(text):
        if multiline and char == "\n":
            continue
        if unicodedata.category(char) in FORBIDDEN_CATEGORIES:
            kind = (
                "a line break" if char in "\n\u2028\u2029" else "a control or invisible character"
            )
            raise ValueError(
                f"{name} contains {kind} (U+{ord(char):04X}) at position {position}; "
                "remove it" + ("" if multiline else " (this field is one line)")
            )
    if not text.strip():
        raise ValueError(f"{name} must not be empty")
    return text


def _check_date(name: str, value: object, *, optional: bool) -> dt.date | None:
    if value is None and optional:
        return None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"{name} must be a datetime.date, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class ContractTemplate:
    """What a generated contract says. Checked on creation (``ValueError`` naming the field).

    The operator is party 甲 and signs with its organisation seal (the certification
    signature); the partner is party 乙 and ``signatories`` are the partner's people who sign
    (one approval signature each). ``body`` is the clauses: one paragraph per line, a blank
    line for space; lines starting with 第…条 are set as clause headings. Text fields are
    NFC-normalised; control characters (other than line breaks in ``body``) and invisible
    formatting characters are refused.
    """

    title: str
    reference: str
    operator_name: str
    partner_name: str
    body: str
    contract_date: dt.date
    signatories: tuple[str, ...]
    #: Contract amount in yen, shown as ``¥1,234,567``; ``None`` shows no amount.
    amount: int | None = None
    #: ``True`` adds （税込）, ``False`` adds （税抜）, ``None`` adds no tax note.
    tax_included: bool | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "title", _check_text("title", self.title, limit=MAX_TITLE))
        put(self, "reference", _check_text("reference", self.reference, limit=MAX_REFERENCE))
        put(
            self,
            "operator_name",
            _check_text("operator_name", self.operator_name, limit=MAX_NAME),
        )
        put(self, "partner_name", _check_text("partner_name", self.partner_name, limit=MAX_NAME))
        put(self, "body", _check_text("body", self.body, limit=MAX_BODY, multiline=True))
        if isinstance(self.signatories, str) or not isinstance(self.signatories, Sequence):
            raise TypeError("signatories must be a sequence of names")
        if not 1 <= len(self.signatories) <= MAX_SIGNATORIES:
            raise ValueError(f"signatories: between 1 and {MAX_SIGNATORIES} names are needed")
        put(
            self,
            "signatories",
            tuple(
                _check_text(f"signatories[{n}]", name, limit=MAX_NAME)
                for n, name in enumerate(self.signatories)
            ),
        )
        _check_date("contract_date", self.contract_date, optional=False)
        starts = _check_date("starts_on", self.starts_on, optional=True)
        ends = _check_date("ends_on", self.ends_on, optional=True)
        if starts is not None and ends is not None and ends < starts:
            raise ValueError("ends_on must not be before starts_on")
        if self.amount is not None:
            if isinstance(self.amount, bool) or not isinstance(self.amount, int):
                raise TypeError("amount must be an int (yen) or None")
            if not 0 <= self.amount <= MAX_AMOUNT:
                raise ValueError(f"amount must be between 0 and {MAX_AMOUNT:,} yen")
        if self.tax_included is not None and not isinstance(self.tax_included, bool):
            raise TypeError("tax_included must be True, False or None")


@dataclass(frozen=True)
class SignatureBox:
    """Where one signature goes: ``page`` is 0-based, ``box`` is (x1, y1, x2, y2) in points,
    ready for :class:`keiin.pdf.signing.SignatureField` or a stamp's ``page``/``box``."""

    role: Literal["operator", "signatory"]
    #: The operator's name, or the signatory's name.
    name: str
    page: int
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class GeneratedContract:
    """A generated contract PDF and the places of its signatures."""

    pdf: bytes
    page_count: int
    #: The operator's seal first, then one per signatory in the template's order.
    signature_boxes: tuple[SignatureBox, ...]

    @property
    def operator_box(self) -> SignatureBox:
        """The box for the operator's certification signature (its seal)."""
        return self.signature_boxes[0]

    @property
    def signatory_boxes(self) -> tuple[SignatureBox, ...]:
        """The boxes for the signatories, in the template's order."""
        return self.signature_boxes[1:]


def format_yen(amount: int) -> str:
    """``1234567`` → ``"¥1,234,567"``."""
    return f"¥{amount:,}"


def format_date(day: dt.date) -> str:
    """``2026-04-01`` → ``"2026年4月1日"``."""
    return f"{day.year}年{day.month}月{day.day}日"


# --------------------------------------------------------------------------------------
# Line breaking


def _is_wide(char: str) -> bool:
    """Japanese (and other East Asian wide) characters break anywhere; Latin words do not."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def _units(text: str) -> list[str]:
    """Break units: each wide character, each space, and each run of other characters."""
    units: list[str] = []
    word: list[str] = []
    for char in text:
        if _is_wide(char) or char == " ":
            if word:
                units.append("".join(word))
                word = []
            units.append(char)
        else:
            word.append(char)
    if word:
        units.append("".join(word))
    return units


def break_lines(text: str, max_width: float, advance: Callable[[str], float]) -> list[str]:
    """Break one paragraph (no ``"\\n"``) into lines at most ``max_width`` wide.

    ``advance(char)`` is the width of one character (same unit as ``max_width``). Japanese
    breaks between any two characters, Latin text at spaces (a word longer than a line is
    split by character). Kinsoku: punctuation of :data:`HANGING` that would start a line
    hangs past ``max_width`` instead; another character of :data:`NO_LINE_START` pulls up
    to :data:`KINSOKU_MAX_PULL` characters down with it; a line does not end with one of
    :data:`NO_LINE_END`. So a line is wider than ``max_width`` only by one hanging
    character, or if it is a single character wider than the line.

    Spaces at a break are dropped; nothing else is lost or reordered. An empty paragraph
    is one empty line.
    """
    if max_width <= 0:
        raise ValueError("max_width must be positive")
    width_cache: dict[str, float] = {}

    def width(unit: str) -> float:
        found = width_cache.get(unit)
        if found is None:
            found = width_cache[unit] = sum(advance(c) for c in unit)
        return found

    def trimmed(line: list[str]) -> list[str]:
        end = len(line)
        while end and line[end - 1] == " ":
            end -= 1
        return line[:end]

    lines: list[str] = []
    current: list[str] = []
    current_width = 0.0
    pending = _units(text)
    pending.reverse()  # a stack: the next unit is pending[-1]
    while pending:
        unit = pending.pop()
        if unit == " ":
            if current or not lines:  # a space at a break is dropped
                current.append(unit)
                current_width += width(unit)
            continue
        unit_width = width(unit)
        if current_width + unit_width <= max_width:
            current.append(unit)
            current_width += unit_width
            continue
        content = trimmed(current)
        if not content and current:
            current, current_width = [], 0.0  # indentation that leaves no room: dropped
            pending.append(unit)
            continue
        if not content and len(unit) > 1:
            pending.extend(reversed(unit))  # a word longer than a line: split it
            continue
        if not content or (unit in HANGING and width("".join(content)) <= max_width):
            # a character wider than the line stands alone; punctuation hangs, right after
            # the text (spaces before it would only widen the overflow)
            if content:
                current, current_width = list(content), width("".join(content))
            current.append(unit)
            current_width += unit_width
            continue
        carry = [unit]
        pulled = 0
        while (
            len(content) > 1
            and pulled < KINSOKU_MAX_PULL
            and (carry[0][0] in NO_LINE_START or content[-1][-1] in NO_LINE_END)
        ):
            carry.insert(0, content.pop())
            content = trimmed(content)
            pulled += 1
        lines.append("".join(content))
        current, current_width = [], 0.0
        pending.extend(reversed(carry))
    if current or not lines:
        lines.append("".join(trimmed(current)))
    return lines


# --------------------------------------------------------------------------------------
# Font


class _FontMetrics:
    """Glyph coverage and advances of the embedded font (per mille of the font size)."""

    def __init__(self, engine: PerMilleGlyphAccumulator, font_name: str) -> None:
        self.engine = engine
        self.font_name = font_name
        self._advances: dict[str, float] = {}

    def covers(self, char: str) -> bool:
        """Whether the font has a glyph for ``char``."""
        return char == "\n" or self.engine.hb_font.get_nominal_glyph(ord(char)) is not None

    def advance(self, char: str, size: float) -> float:
        """Width of ``char`` at ``size`` points."""
        per_mille = self._advances.get(char)
        if per_mille is None:
            glyph = self.engine.hb_font.get_nominal_glyph(ord(char))
            per_mille = float(self.engine.hb_font.get_glyph_h_advance(glyph or 0))
            self._advances[char] = per_mille
        return per_mille * size / 1000

    def width(self, text: str, size: float) -> float:
        """Width of ``text`` at ``size`` points (nominal advances, no kerning)."""
        return sum(self.advance(c, size) for c in text)

    def checked(self, field_name: str, text: str, replacement: str | None) -> str:
        """``text`` if the font covers it, else with ``replacement`` for each missing
        character, or :class:`UnsupportedCharacterError` if there is no replacement."""
        missing = list(dict.fromkeys(c for c in text if not self.covers(c)))
        if not missing:
            return text
        if replacement is None:
            raise UnsupportedCharacterError(field_name, missing, self.font_name)
        lost = set(missing)
        return "".join(replacement if c in lost else c for c in text)


def _open_font(writer: PdfFileWriter, font_path: Path) -> PerMilleGlyphAccumulator:
    path = Path(font_path)
    if path.suffix.lower() not in (".otf", ".ttf") or not path.is_file():
        raise StampFontError(f"the contract font must be an existing .otf or .ttf file: {path}")
    obj_stream = writer.prepare_object_stream() if writer.stream_xrefs else None
    return PerMilleGlyphAccumulator(
        writer=writer,
        font_handle=BytesIO(path.read_bytes()),
        font_size=BODY_SIZE,
        bcp47_lang_code="ja",
        obj_stream=obj_stream,
    )


# --------------------------------------------------------------------------------------
# Layout


@dataclass(frozen=True)
class _Text:
    x: float
    y: float  # baseline
    size: float
    text: str
    gray: float = 0.0


@dataclass(frozen=True)
class _Rule:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float = 0.5


@dataclass(frozen=True)
class _Frame:
    x1: float
    y1: float
    x2: float
    y2: float


_Item = _Text | _Rule | _Frame


@dataclass
class _Page:
    items: list[_Item] = field(default_factory=list)


class _Layout:
    """Lays text out top to bottom, starting new pages as needed."""

    def __init__(self, metrics: _FontMetrics) -> None:
        self.metrics = metrics
        self.pages: list[_Page] = []
        self.left = MARGIN_LEFT
        self.right = A4[0] - MARGIN_RIGHT
        self.y = 0.0
        self.new_page()

    @property
    def width(self) -> float:
        return self.right - self.left

    def new_page(self) -> None:
        """Continue on a new page (``ValueError`` beyond :data:`MAX_PAGES`)."""
        if len(self.pages) >= MAX_PAGES:
            raise ValueError(f"body: the contract would be longer than {MAX_PAGES} pages")
        self.pages.append(_Page())
        self.y = A4[1] - MARGIN_TOP

    def room(self) -> float:
        """Vertical space left on the current page."""
        return self.y - MARGIN_BOTTOM

    def ensure(self, height: float) -> None:
        """Start a new page unless ``height`` points still fit on this one."""
        if height > self.room():
            self.new_page()

    def space(self, height: float) -> None:
        """Vertical space (dropped at the top of a page)."""
        if self.y < A4[1] - MARGIN_TOP:
            self.y -= min(height, self.room())

    def add(self, item: _Item) -> None:
        self.pages[-1].items.append(item)

    def lines(
        self,
        text: str,
        size: float,
        *,
        indent: float = 0.0,
        align: Literal["left", "center", "right"] = "left",
        gray: float = 0.0,
    ) -> tuple[int, float]:
        """One paragraph, broken into lines, each on a new page if needed; returns the page
        index and baseline of its first line."""
        leading = size * LINE_SPACING
        width = self.width - indent
        first: tuple[int, float] | None = None
        for line in break_lines(text, width, lambda c: self.metrics.advance(c, size)):
            self.ensure(leading)
            self.y -= leading
            baseline = self.y + (leading - size) / 2
            if first is None:
                first = (len(self.pages) - 1, baseline)
            line_width = self.metrics.width(line, size)
            if align == "center":
                x = self.left + indent + max(0.0, (width - line_width) / 2)
            elif align == "right":
                x = self.left + indent + max(0.0, width - line_width)
            else:
                x = self.left + indent
            if line:
                self.add(_Text(x, baseline, size, line, gray))
        assert first is not None  # break_lines gives at least one line
        return first

    def labelled(self, label: str, value: str, label_width: float) -> None:
        """``label`` in a column of ``label_width``, ``value`` wrapped beside it."""
        page, baseline = self.lines(value, BODY_SIZE, indent=label_width)
        self.pages[page].items.append(_Text(self.left, baseline, BODY_SIZE, label))

    def rule(self) -> None:
        """A thin horizontal line across the text area."""
        self.space(6)
        self.add(_Rule(self.left, self.y, self.right, self.y))
        self.space(10)


@dataclass(frozen=True)
class _Signer:
    role: Literal["operator", "signatory"]
    name: str
    label: str


def _party_rows(
    template: ContractTemplate, checked: Callable[[str, str], str]
) -> list[tuple[str, str]]:
    rows = [
        ("甲", checked("operator_name", template.operator_name)),
        ("乙", checked("partner_name", template.partner_name)),
    ]
    if template.amount is not None:
        note = {True: "（税込）", False: "（税抜）", None: ""}[template.tax_included]
        rows.append(("契約金額", format_yen(template.amount) + note))
    if template.starts_on is not None or template.ends_on is not None:
        starts = f"{format_date(template.starts_on)}から" if template.starts_on else ""
        ends = f"{format_date(template.ends_on)}まで" if template.ends_on else ""
        rows.append(("契約期間", starts + ends))
    return rows


def _fit(text: str, width: float, size: float, metrics: _FontMetrics) -> str:
    """``text``, shortened with … to fit ``width``."""
    if metrics.width(text, size) <= width:
        return text
    while text and metrics.width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _signature_area(
    layout: _Layout, signers: Sequence[_Signer]
) -> list[tuple[_Signer, tuple[int, int, int, int]]]:
    """The closing sentence and the signature boxes (two columns), kept together on one
    page, which is the last."""
    box_width, box_height = SIGNATURE_BOX_SIZE
    label_height = LABEL_SIZE * 1.4
    row_height = label_height + SIGNATURE_LABEL_GAP + box_height + SIGNATURE_ROW_GAP
    rows = (len(signers) + 1) // 2
    closing_lines = break_lines(
        CLOSING_TEXT, layout.width, lambda c: layout.metrics.advance(c, BODY_SIZE)
    )
    layout.space(BODY_SIZE)
    layout.ensure(len(closing_lines) * BODY_SIZE * LINE_SPACING + BODY_SIZE + rows * row_height)
    layout.lines(CLOSING_TEXT, BODY_SIZE)
    layout.space(BODY_SIZE)
    columns = (layout.left, layout.right - box_width)
    label_room = (layout.right - layout.left) / 2 - 8
    placed = []
    for index, signer in enumerate(signers):
        top = layout.y - (index // 2) * row_height
        x = columns[index % 2]
        label = _fit(signer.label, label_room, LABEL_SIZE, layout.metrics)
        layout.add(_Text(x, top - LABEL_SIZE, LABEL_SIZE, label, GRAY_TEXT))
        box_top = top - label_height - SIGNATURE_LABEL_GAP
        box = (round(x), round(box_top - box_height), round(x + box_width), round(box_top))
        layout.add(_Frame(*box))
        placed.append((signer, box))
    layout.y -= rows * row_height
    return placed


def _lay_out(
    template: ContractTemplate, metrics: _FontMetrics, replacement: str | None
) -> tuple[list[_Page], list[tuple[_Signer, tuple[int, int, int, int]]], str]:
    """Pages, signature boxes and the (font-checked) reference number."""

    def checked(name: str, text: str) -> str:
        return metrics.checked(name, text, replacement)

    layout = _Layout(metrics)
    layout.lines(checked("title", template.title), TITLE_SIZE, align="center")
    layout.space(BODY_SIZE)
    reference = checked("reference", template.reference)
    layout.lines(f"契約番号：{reference}", LABEL_SIZE, align="right")
    layout.lines(f"契約締結日：{format_date(template.contract_date)}", LABEL_SIZE, align="right")
    layout.rule()

    for label, value in _party_rows(template, checked):
        layout.labelled(label, value, label_width=BODY_SIZE * 6)
    layout.rule()

    for paragraph in checked("body", template.body).split("\n"):
        if CLAUSE_HEADING.match(paragraph):
            layout.space(BODY_SIZE * 0.6)
        layout.lines(paragraph, BODY_SIZE)

    operator = checked("operator_name", template.operator_name)
    partner = checked("partner_name", template.partner_name)
    signers = [_Signer("operator", operator, f"甲　{operator}")]
    for n, name in enumerate(template.signatories):
        shown = checked(f"signatories[{n}]", name)
        signers.append(_Signer("signatory", shown, f"乙　{partner}　{shown}"))
    return layout.pages, _signature_area(layout, signers), reference


# --------------------------------------------------------------------------------------
# Rendering


def _text_ops(item: _Text, engine: PerMilleGlyphAccumulator) -> bytes:
    engine.font_size = item.size  # shape() ends with a Td scaled by this size
    shaped = engine.shape(item.text)
    gray = b"%g g " % item.gray if item.gray else b""
    return b"BT %s/F1 %g Tf 1 0 0 1 %.2f %.2f Tm %s ET" % (
        gray,
        item.size,
        item.x,
        item.y,
        shaped.graphics_ops,
    )


def _page_stream(
    page: _Page, number: int, total: int, reference: str, metrics: _FontMetrics
) -> bytes:
    """The content stream of one page: its items, the page number, and from page 2 on the
    contract number at the top."""
    footer = f"{number} / {total}"
    items: list[_Item] = [
        *page.items,
        _Text(
            (A4[0] - metrics.width(footer, SMALL_SIZE)) / 2,
            FOOTER_BASELINE,
            SMALL_SIZE,
            footer,
            GRAY_TEXT,
        ),
    ]
    if number > 1:
        header = f"契約番号：{reference}"
        header_x = A4[0] - MARGIN_RIGHT - metrics.width(header, SMALL_SIZE)
        items.append(_Text(header_x, HEADER_BASELINE, SMALL_SIZE, header, GRAY_TEXT))
    ops: list[bytes] = []
    for item in items:
        if isinstance(item, _Text):
            ops.append(_text_ops(item, metrics.engine))
        elif isinstance(item, _Rule):
            ops.append(
                b"q %g w %g G %.2f %.2f m %.2f %.2f l S Q"
                % (item.width, GRAY_RULE, item.x1, item.y1, item.x2, item.y2)
            )
        else:
            ops.append(
                b"q 0.5 w %g G [3 2] 0 d %.2f %.2f %.2f %.2f re S Q"
                % (GRAY_RULE, item.x1, item.y1, item.x2 - item.x1, item.y2 - item.y1)
            )
    return b"\n".join(ops)


def _render(
    writer: PdfFileWriter, metrics: _FontMetrics, pages: list[_Page], reference: str
) -> None:
    """Add the pages to ``writer``, sharing one font resource."""
    resources = generic.DictionaryObject(
        {
            generic.NameObject("/Font"): generic.DictionaryObject(
                {generic.NameObject("/F1"): metrics.engine.as_resource()}
            )
        }
    )
    for number, page in enumerate(pages, start=1):
        stream = generic.StreamObject(
            stream_data=_page_stream(page, number, len(pages), reference, metrics)
        )
        stream.compress()
        writer.insert_page(PageObject(writer.add_object(stream), [0, 0, A4[0], A4[1]], resources))


def generate_contract(
    template: ContractTemplate,
    *,
    font_path: Path | None = None,
    replacement: str | None = None,
) -> GeneratedContract:
    """An A4 contract PDF for ``template``, and the places of its signature fields.

    The font is ``font_path`` (an .otf/.ttf file) or
    :func:`~keiin.pdf.stamp.default_japanese_font` (IPAex Gothic), embedded as a subset. A
    character the font cannot show raises :class:`UnsupportedCharacterError` (a
    ``ValueError``) naming the field and the characters, unless ``replacement`` is given
    (e.g. ``"〓"``, the traditional mark for a missing glyph): it then stands in for each
    of them. A missing font raises :class:`~keiin.pdf.stamp.StampFontError`.
    """
    if not isinstance(template, ContractTemplate):
        raise TypeError("template must be a ContractTemplate")
    path = Path(font_path) if font_path is not None else default_japanese_font()
    writer = PdfFileWriter()
    engine = _open_font(writer, path)
    metrics = _FontMetrics(engine, engine.tt["name"].getDebugName(6) or path.stem)
    if replacement is not None and (
        len(replacement) != 1 or replacement == "\n" or not metrics.covers(replacement)
    ):
        raise ValueError("replacement must be one character that the font can show")

    pages, boxes, reference = _lay_out(template, metrics, replacement)
    _render(writer, metrics, pages, reference)
    writer.root[generic.NameObject("/Lang")] = generic.TextStringObject("ja")
    writer.root[generic.NameObject("/ViewerPreferences")] = generic.DictionaryObject(
        {generic.NameObject("/DisplayDocTitle"): generic.BooleanObject(True)}
    )
    writer.document_meta.title = metrics.checked("title", template.title, replacement)
    writer.document_meta.created = "now"
    out = BytesIO()
    writer.write(out)
    last = len(pages) - 1
    return GeneratedContract(
        pdf=out.getvalue(),
        page_count=len(pages),
        signature_boxes=tuple(
            SignatureBox(role=signer.role, name=signer.name, page=last, box=box)
            for signer, box in boxes
        ),
    )
