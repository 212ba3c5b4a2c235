"""The visible signature stamp: the signer's name in Japanese, the company and the time.

The text is set in an embedded (subsetted) OpenType font through pyHanko's
``GlyphAccumulatorFactory`` with the width fix of :mod:`keiin.pdf.fonts` (needs ``fonttools``
and ``uharfbuzz``, the ``pyhanko[opentype]`` extra).
The font file is an argument; :func:`default_japanese_font` finds the Debian one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import TextStampStyle

#: Where Debian's Japanese fonts live, best first (IPAex Gothic, then Noto Sans CJK).
DEBIAN_JAPANESE_FONTS: tuple[Path, ...] = (
    Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
#: The Debian package that provides the first of :data:`DEBIAN_JAPANESE_FONTS`.
FONT_PACKAGE = "fonts-ipaexfont-gothic"
JST = ZoneInfo("Asia/Tokyo")
#: Stamp text template; the parameters come from :meth:`VisibleStamp.text_params`.
STAMP_TEXT = "%(name)s\n%(company)s\n%(time)s"
#: Default stamp rectangle (x1, y1, x2, y2) in PDF points, near the bottom left of page 1.
DEFAULT_BOX = (50, 50, 270, 110)


class StampFontError(RuntimeError):
    """No usable font for the stamp; the message says what to install or configure."""


def default_japanese_font() -> Path:
    """The first Debian Japanese OpenType font found, or :class:`StampFontError`."""
    for candidate in DEBIAN_JAPANESE_FONTS:
        if candidate.suffix in (".ttf", ".otf") and candidate.is_file():
            return candidate
    raise StampFontError(
        "no Japanese font for the signature stamp: install the Debian package "
        f"{FONT_PACKAGE} (apt-get install {FONT_PACKAGE}) or configure a font path "
        "(an .otf/.ttf file)"
    )


@dataclass(frozen=True)
class VisibleStamp:
    """What the visible stamp shows and where.

    ``time`` is shown in Japan time; by default the moment the stamp is drawn (just before
    the signature; the trusted time is in the signature's timestamp).
    """

    name: str
    company: str
    font_path: Path
    page: int = 0  # 0-based; -1 is the last page
    box: tuple[int, int, int, int] = DEFAULT_BOX
    time: dt.datetime | None = None
    font_size: int = 10
    time_format: str = "%Y年%m月%d日 %H:%M JST"
    extra_lines: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        path = Path(self.font_path)
        if path.suffix.lower() not in (".otf", ".ttf"):
            raise StampFontError(f"the stamp font must be an .otf or .ttf file, not {path}")
        if not path.is_file():
            raise StampFontError(
                f"the stamp font {path} does not exist: install {FONT_PACKAGE} or fix the path"
            )
        x1, y1, x2, y2 = self.box
        if x2 <= x1 or y2 <= y1:
            raise ValueError("the stamp box must be (x1, y1, x2, y2) with x1 < x2 and y1 < y2")

    def text_params(self) -> dict[str, str]:
        """The values substituted into :data:`STAMP_TEXT`."""
        moment = self.time or dt.datetime.now(dt.UTC)
        return {
            "name": self.name,
            "company": self.company,
            "time": moment.astimezone(JST).strftime(self.time_format),
        }

    def style(self) -> TextStampStyle:
        """The pyHanko stamp style, with the font embedded as a subset."""
        try:
            from keiin.pdf.fonts import PerMilleGlyphAccumulatorFactory
        except ImportError as exc:  # pragma: no cover - dependency problem
            raise StampFontError(
                "pyHanko's OpenType support is missing: install pyhanko[opentype] "
                "(fonttools, uharfbuzz)"
            ) from exc
        text = STAMP_TEXT + "".join("\n" + line.replace("%", "%%") for line in self.extra_lines)
        return TextStampStyle(
            stamp_text=text,
            text_box_style=TextBoxStyle(
                font=PerMilleGlyphAccumulatorFactory(
                    str(self.font_path), font_size=self.font_size, bcp47_lang_code="ja"
                ),
                font_size=self.font_size,
            ),
            border_width=1,
        )
