"""keiin.pdf.template: contract PDFs generated from structured data with Japanese text."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyhanko.pdf_utils.reader import PdfFileReader

from keiin.pdf import SignatureField, StampFontError, VisibleStamp, approve, certify
from keiin.pdf.template import (
    A4,
    HANGING,
    MAX_BODY,
    MAX_SIGNATORIES,
    MAX_TITLE,
    NO_LINE_END,
    NO_LINE_START,
    SIGNATURE_BOX_SIZE,
    ContractTemplate,
    GeneratedContract,
    UnsupportedCharacterError,
    break_lines,
    format_date,
    format_yen,
    generate_contract,
)
from keiin.pdf.validation import validate_document
from tests.unit.pdf.support import TestCa, asn1, one_shot_signer, timestamper

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed"
)
needs_qpdf = pytest.mark.skipif(shutil.which("qpdf") is None, reason="qpdf is not installed")

CLAUSES = [
    "第1条（目的）",
    "本契約は、甲が乙に対し、甲の電子契約サービス「契印」の導入支援業務（以下「本業務」という。）"
    "を委託し、乙がこれを受託することに関し、必要な事項を定めることを目的とする。",
    "第2条（委託料）",
    "甲は、乙に対し、本業務の対価として、頭書の契約金額を支払う。The fee is payable within "
    "thirty (30) days after receipt of a valid invoice, by bank transfer.",
    "",
    "第3条（秘密保持）",
    "甲および乙は、本契約に関して知り得た相手方の技術上または営業上の情報を、相手方の事前の"
    "書面による承諾なく第三者に開示または漏洩してはならない。",
]


def _template(**changes) -> ContractTemplate:
    fields = {
        "title": "業務委託契約書",
        "reference": "KEIIN-2026-0001",
        "operator_name": "契印株式会社",
        "partner_name": "株式会社サンプル",
        "body": "\n".join(CLAUSES),
        "contract_date": dt.date(2026, 4, 1),
        "signatories": ("山田 太郎", "佐藤 花子"),
        "amount": 1234567,
        "tax_included": True,
        "starts_on": dt.date(2026, 4, 1),
        "ends_on": dt.date(2027, 3, 31),
    }
    fields.update(changes)
    return ContractTemplate(**fields)


@pytest.fixture(scope="module")
def generated() -> GeneratedContract:
    return generate_contract(_template())


@pytest.fixture(scope="module")
def long_contract() -> GeneratedContract:
    return generate_contract(_template(body="\n".join(CLAUSES * 12)))


def _pdftotext(pdf: bytes, tmp_path: Path, *args: str) -> str:
    source = tmp_path / "in.pdf"
    source.write_bytes(pdf)
    result = subprocess.run(
        ["pdftotext", *args, str(source), "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def _qpdf_check(pdf: bytes, tmp_path: Path) -> subprocess.CompletedProcess:
    source = tmp_path / "check.pdf"
    source.write_bytes(pdf)
    return subprocess.run(
        ["qpdf", "--check", str(source)], capture_output=True, text=True, timeout=60, check=False
    )


# --- the generated file ----------------------------------------------------------------


@needs_qpdf
def test_qpdf_finds_no_errors(generated, long_contract, tmp_path):
    for contract in (generated, long_contract):
        result = _qpdf_check(contract.pdf, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "No syntax or stream encoding errors" in result.stdout


def test_pages_are_a4_and_the_font_is_an_embedded_subset(generated):
    reader = PdfFileReader(BytesIO(generated.pdf), strict=False)
    assert reader.root["/Pages"]["/Count"] == generated.page_count == 1
    assert reader.root["/Lang"] == "ja"
    page = reader.root["/Pages"]["/Kids"][0]
    assert [round(float(v), 2) for v in page["/MediaBox"]] == [0, 0, 595.28, 841.89]
    [font] = page["/Resources"]["/Font"].values()
    font = font.get_object()
    assert font["/Subtype"] == "/Type0"
    assert "/ToUnicode" in font
    descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
    assert "/FontFile2" in descriptor
    assert re.fullmatch(r"/[A-Z]{6}\+.+", str(descriptor["/FontName"]))  # a subset
    assert len(generated.pdf) < 200_000  # a subset, not the 4 MB font


@needs_poppler
def test_text_is_extractable(generated, tmp_path):
    text = _pdftotext(generated.pdf, tmp_path)
    assert "業務委託契約書" in text
    assert "契約番号：KEIIN-2026-0001" in text
    assert "契約締結日：2026年4月1日" in text
    assert "株式会社サンプル" in text
    assert "¥1,234,567（税込）" in text
    assert "2026年4月1日から2027年3月31日まで" in text
    assert "第2条（委託料）" in text
    assert "The fee is payable within" in text
    assert "山田 太郎" in text and "佐藤 花子" in text
    assert "1 / 1" in text


@needs_poppler
def test_long_body_runs_over_numbered_pages(long_contract, tmp_path):
    total = long_contract.page_count
    assert total >= 3
    text = _pdftotext(long_contract.pdf, tmp_path)
    pages = text.split("\f")
    for number in range(1, total + 1):
        assert f"{number} / {total}" in pages[number - 1]
    # From page 2 on, every page names the contract.
    assert all("KEIIN-2026-0001" in page for page in pages[1:total])
    # Nothing is lost between pages: every clause heading is there, twelve times.
    assert text.count("第3条（秘密保持）") == 12


def test_signature_boxes_are_on_the_last_page(generated, long_contract):
    for contract in (generated, long_contract):
        boxes = contract.signature_boxes
        assert [b.role for b in boxes] == ["operator", "signatory", "signatory"]
        assert [b.name for b in boxes] == ["契印株式会社", "山田 太郎", "佐藤 花子"]
        assert contract.operator_box == boxes[0]
        assert contract.signatory_boxes == boxes[1:]
        for box in boxes:
            assert box.page == contract.page_count - 1
            x1, y1, x2, y2 = box.box
            assert (x2 - x1, y2 - y1) == SIGNATURE_BOX_SIZE
            assert 0 < x1 < x2 < A4[0] and 50 < y1 < y2 < A4[1]
        for n, first in enumerate(boxes):
            for second in boxes[n + 1 :]:
                assert not _overlap(first.box, second.box)


class _Words(HTMLParser):
    """Word boxes from ``pdftotext -bbox`` (top-left origin), per page."""

    def __init__(self) -> None:
        super().__init__()
        self.pages: list[list[tuple[str, tuple[float, ...]]]] = []
        self._box: tuple[float, ...] | None = None

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "page":
            self.pages.append([])
        elif tag == "word":
            self._box = tuple(float(values[k]) for k in ("xmin", "ymin", "xmax", "ymax"))

    def handle_data(self, data):
        if self._box is not None:
            self.pages[-1].append((data, self._box))
            self._box = None


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@needs_poppler
def test_no_text_inside_the_signature_boxes(long_contract, tmp_path):
    parser = _Words()
    parser.feed(_pdftotext(long_contract.pdf, tmp_path, "-bbox"))
    words = parser.pages[-1]
    assert words
    for box in long_contract.signature_boxes:
        x1, y1, x2, y2 = box.box
        flipped = (x1, A4[1] - y2, x2, A4[1] - y1)  # to pdftotext's top-left origin
        for word, word_box in words:
            assert not _overlap(flipped, word_box), (word, box)


def test_generated_contract_is_signed_and_validates(pki, seal, font, tmp_path):
    """Certify with the fields placed on the boxes, approve, then validate offline."""
    contract = generate_contract(_template(signatories=("山田 太郎",)))
    operator, signatory = contract.signature_boxes
    tsa = timestamper(pki)
    with one_shot_signer(seal.certificate, seal.key, pki) as signer:
        certified = certify(
            contract.pdf,
            signer,
            timestamper=tsa,
            field_name="OperatorSeal",
            signature_fields=[SignatureField("Signatory1", signatory.page, signatory.box)],
            stamp=VisibleStamp(
                "契印株式会社", "電子契約", font, page=operator.page, box=operator.box
            ),
        )
    with one_shot_signer(pki.signer, pki.signer_key, pki) as signer:
        approved = approve(
            certified,
            signer,
            timestamper=tsa,
            revinfo=TestCa(pki),
            field_name="Signatory1",
            stamp=VisibleStamp("山田 太郎", "株式会社サンプル", font),
        )
    result = validate_document(approved, [asn1(pki.root.certificate)])
    assert result.passed, result.to_dict()
    assert [s.field_name for s in result.signatures] == [
        "OperatorSeal",
        "Signatory1",
        "Signatory1_DocTimeStamp",
    ]
    # The signature fields are where the template drew their frames.
    reader = PdfFileReader(BytesIO(approved), strict=False)
    rects = {
        s.field_name: tuple(round(float(v)) for v in s.sig_field["/Rect"])
        for s in reader.embedded_regular_signatures
    }
    assert rects == {"OperatorSeal": operator.box, "Signatory1": signatory.box}


# --- formatting and line breaking -------------------------------------------------------


def test_formats():
    assert format_yen(1234567) == "¥1,234,567"
    assert format_yen(0) == "¥0"
    assert format_date(dt.date(2026, 4, 1)) == "2026年4月1日"


def _one(_char: str) -> float:
    return 1.0


@pytest.mark.parametrize(
    ("text", "width", "lines"),
    [
        ("", 5, [""]),
        ("あいうえお", 5, ["あいうえお"]),
        ("あいうえおか", 5, ["あいうえお", "か"]),
        # 。 may hang into the margin rather than start a line
        ("あいうえお。か", 5, ["あいうえお。", "か"]),
        # ） may not start a line: え comes down with it
        ("あいうえ）お", 4, ["あいう", "え）お"]),
        # 「 may not end a line
        ("あいう「えお", 4, ["あいう", "「えお"]),
        # Latin breaks at spaces; the space at the break is dropped
        ("hello world foo", 11, ["hello world", "foo"]),
        ("hello world", 7, ["hello", "world"]),
        # a word longer than a line is split
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        # mixed: a Japanese run, then a word that does not fit
        ("契約 contract", 6, ["契約", "contra", "ct"]),
        # indentation at the start of a paragraph is kept
        ("\u3000本文です", 10, ["\u3000本文です"]),
    ],
)
def test_break_lines(text, width, lines):
    assert break_lines(text, width, _one) == lines


def test_break_lines_rejects_a_nonpositive_width():
    with pytest.raises(ValueError, match="positive"):
        break_lines("abc", 0, _one)


LINE_TEXT = st.text(
    alphabet=st.sampled_from(
        list("あいうえお漢字契約、。「」（）ー・ッャ abcXYZ.,()-1 \u3000")
        + sorted(NO_LINE_START | NO_LINE_END)
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(text=LINE_TEXT, width=st.integers(1, 40), wide=st.floats(1.0, 2.0))
@example(text="1 、", width=1, wide=1.0)  # punctuation hangs right after the text
def test_break_lines_loses_nothing_and_respects_the_width(text, width, wide):
    def advance(char: str) -> float:
        return wide if ord(char) > 0x2000 else 1.0

    lines = break_lines(text, width, advance)
    assert lines
    # Only spaces at breaks are dropped.
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines[1:]:
        assert not line.startswith(" ")
    for line in lines:
        assert not line.endswith(" ")
        overflow = sum(advance(c) for c in line) - width
        if overflow > 1e-9:
            # only hanging punctuation, or a single character wider than the line
            assert line[-1] in HANGING or len(line) == 1, (line, width)
            assert overflow <= wide + 1e-9 or len(line) == 1


# --- input checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "title must not be empty"),
        ({"title": " \u3000 "}, "title must not be empty"),
        ({"title": "契" * (MAX_TITLE + 1)}, "title is too long"),
        ({"title": "契約書\n第二版"}, "title contains a line break"),
        ({"title": "契約\x00書"}, "control or invisible"),
        ({"partner_name": "株式会社\u202eルプンサ"}, "partner_name contains a control"),
        ({"reference": "R\u200b1"}, "reference contains a control"),
        ({"body": "第1条\t目的"}, r"body contains .*U\+0009"),
        ({"body": "本文" * (MAX_BODY // 2 + 1)}, "body is too long"),
        ({"body": "\n\n"}, "body must not be empty"),
        ({"signatories": ()}, "between 1 and"),
        ({"signatories": ("山田",) * (MAX_SIGNATORIES + 1)}, "between 1 and"),
        ({"signatories": ("山田", "")}, r"signatories\[1\] must not be empty"),
        ({"amount": -1}, "amount must be between"),
        ({"amount": 10**15}, "amount must be between"),
        ({"ends_on": dt.date(2026, 3, 31)}, "ends_on must not be before starts_on"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(changes, message):
    with pytest.raises(ValueError, match=message):
        _template(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": True},
        {"amount": 1.5},
        {"contract_date": dt.datetime(2026, 4, 1, tzinfo=dt.UTC)},
        {"contract_date": "2026-04-01"},
        {"signatories": "山田 太郎"},
        {"title": None},
    ],
)
def test_wrong_types_are_refused(changes):
    with pytest.raises(TypeError):
        _template(**changes)


def test_text_is_normalised():
    template = _template(body="第1条\r\n本文\r終わり", title="か\u3099いしゃ")
    assert template.body == "第1条\n本文\n終わり"
    assert template.title == "がいしゃ"  # NFC


def test_characters_missing_from_the_font_are_named():
    with pytest.raises(UnsupportedCharacterError) as info:
        generate_contract(_template(body="笑顔😀と𓀀"))
    assert isinstance(info.value, ValueError)
    assert info.value.field == "body"
    assert info.value.characters == ("😀", "𓀀")
    assert "U+1F600" in str(info.value)


@needs_poppler
def test_characters_missing_from_the_font_can_be_replaced(tmp_path):
    contract = generate_contract(_template(body="笑顔😀です"), replacement="〓")
    assert "笑顔〓です" in _pdftotext(contract.pdf, tmp_path)
    with pytest.raises(ValueError, match="replacement"):
        generate_contract(_template(), replacement="😀")


def test_missing_font_file(tmp_path):
    with pytest.raises(StampFontError):
        generate_contract(_template(), font_path=tmp_path / "none.ttf")


def test_very_long_names_are_shortened_in_the_labels_only(tmp_path):
    long_name = "株式会社" + "長" * 90
    contract = generate_contract(_template(partner_name=long_name))
    assert contract.page_count == 1
    assert contract.signatory_boxes[0].name == "山田 太郎"


# --- arbitrary text ------------------------------------------------------------------------


def _generated_or_refused(template_text: str, replacement: str | None) -> None:
    try:
        template = _template(body=template_text)
        contract = generate_contract(template, replacement=replacement)
    except ValueError as exc:
        assert str(exc)
        return
    reader = PdfFileReader(BytesIO(contract.pdf), strict=False)
    assert reader.root["/Pages"]["/Count"] == contract.page_count
    assert len(contract.signature_boxes) == 3


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    body=st.text(max_size=400)
    | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=400),
    replace_missing=st.booleans(),
)
def test_arbitrary_body_gives_a_pdf_or_a_clean_value_error(body, replace_missing):
    _generated_or_refused(body, "〓" if replace_missing else None)


@needs_qpdf
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.text(
        alphabet=st.characters(categories=["L", "N", "P", "Zs"]) | st.just("\n"),
        min_size=1,
        max_size=3000,
    )
)
def test_arbitrary_printable_body_with_replacement_passes_qpdf(body, tmp_path_factory):
    try:
        template = _template(body=body)
    except ValueError:
        return  # e.g. only spaces
    contract = generate_contract(template, replacement="〓")
    result = _qpdf_check(contract.pdf, tmp_path_factory.mktemp("qpdf"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_is_frozen():
    template = _template()
    with pytest.raises(AttributeError):
        template.title = "x"  # type: ignore[misc]
    assert replace(template, title="新しい題名").title == "新しい題名"
