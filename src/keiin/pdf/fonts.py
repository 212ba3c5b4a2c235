"""Embedding an OpenType/TrueType font for the stamp, with correct glyph widths.

pyHanko 0.38's ``GlyphAccumulator`` writes glyph widths (``/W``) and ``TJ`` adjustments in the
font's own units, but PDF wants thousandths of an em: right only for fonts with
``unitsPerEm = 1000`` (most CFF fonts). TrueType fonts such as IPAex Gothic use 2048, and their
text came out spaced twice too wide. :class:`PerMilleGlyphAccumulator` shapes at a scale of 1000
units per em and scales the widths to match, so every unit pyHanko writes is per mille.
"""

from __future__ import annotations

from typing import Any

from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.writer import BasePdfFileWriter

#: PDF glyph space: widths and TJ adjustments are in thousandths of text space units.
PDF_UNITS_PER_EM = 1000


class PerMilleGlyphAccumulator(GlyphAccumulator):
    """A ``GlyphAccumulator`` that works in 1/1000 em whatever the font's unitsPerEm."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._font_units_per_em = self.units_per_em
        self.units_per_em = PDF_UNITS_PER_EM
        self.hb_font.scale = (PDF_UNITS_PER_EM, PDF_UNITS_PER_EM)

    def _get_cid_and_width(self, glyph_id: int) -> tuple[int, int]:
        cached = self._glyphs.get(glyph_id)
        if cached is not None:
            return cached
        cid, width = super()._get_cid_and_width(glyph_id)
        scaled = (cid, round(width * PDF_UNITS_PER_EM / self._font_units_per_em))
        self._glyphs[glyph_id] = scaled
        return scaled


class PerMilleGlyphAccumulatorFactory(GlyphAccumulatorFactory):
    """``GlyphAccumulatorFactory`` producing :class:`PerMilleGlyphAccumulator` engines."""

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: Any = None
    ) -> GlyphAccumulator:
        """A new engine for ``writer`` (same options as pyHanko's factory)."""
        # pyHanko's engine reads from the handle later (as pyHanko's own factory does).
        handle = open(self.font_file, "rb")
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return PerMilleGlyphAccumulator(
            writer=writer,
            font_handle=handle,
            font_size=self.font_size,
            ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag,
            writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
        )
