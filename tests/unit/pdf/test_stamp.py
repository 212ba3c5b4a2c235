"""The visible stamp: Japanese text in an embedded font, with correct glyph widths."""

from __future__ import annotations

import datetime as dt
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from keiin.pdf.stamp import (
    DEBIAN_JAPANESE_FONTS,
    FONT_PACKAGE,
    StampFontError,
    VisibleStamp,
    default_japanese_font,
)


def test_default_font_is_installed(font):
    assert font.is_file()
    assert font in DEBIAN_JAPANESE_FONTS


def test_missing_font_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr("keiin.pdf.stamp.DEBIAN_JAPANESE_FONTS", (tmp_path / "none.ttf",))
    with pytest.raises(StampFontError, match=FONT_PACKAGE):
        default_japanese_font()
    with pytest.raises(StampFontError, match=FONT_PACKAGE):
        VisibleStamp("山田 太郎", "Example", tmp_path / "none.ttf")
    with pytest.raises(StampFontError, match=r"\.otf or \.ttf"):
        VisibleStamp("山田 太郎", "Example", Path("/etc/hostname"))


def test_text_params_show_japan_time(font):
    moment = dt.datetime(2026, 4, 1, 0, 30, tzinfo=dt.UTC)
    stamp = VisibleStamp("山田 太郎", "株式会社サンプル", font, time=moment)
    assert stamp.text_params() == {
        "name": "山田 太郎",
        "company": "株式会社サンプル",
        "time": "2026年04月01日 09:30 JST",
    }


def _stamp_font(pdf: bytes, field: str):
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    sig = next(s for s in reader.embedded_signatures if s.field_name == field)
    appearance = sig.sig_field["/AP"]["/N"]
    [font] = appearance["/Resources"]["/Font"].values()
    return appearance, font.get_object()


def test_stamp_embeds_a_japanese_subset_font(contract):
    appearance, font = _stamp_font(contract.approved, "Signatory1")
    assert font["/Subtype"] == "/Type0"
    [cid_font] = font["/DescendantFonts"]
    cid_font = cid_font.get_object()
    descriptor = cid_font["/FontDescriptor"].get_object()
    assert "/FontFile2" in descriptor or "/FontFile3" in descriptor
    assert b"TJ" in appearance.data
    # The ToUnicode map lets a reader extract the name: 山 is U+5C71.
    assert b"5c71" in font["/ToUnicode"].get_object().data.lower()


def test_full_width_glyphs_are_one_em_wide(contract):
    """Widths are per mille (IPAex has 2048 units per em; pyHanko alone wrote them raw)."""
    _, font = _stamp_font(contract.approved, "Signatory1")
    [cid_font] = font["/DescendantFonts"]
    widths = cid_font.get_object()["/W"]
    flat = [w for chunk in list(widths)[1::2] for w in chunk]
    assert max(flat) == 1000
    assert all(0 < w <= 1000 for w in flat)
