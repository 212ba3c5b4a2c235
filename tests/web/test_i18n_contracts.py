"""Japanese translations of the contract pages and mails (keiin.web.contracts)."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext

from keiin.web.contracts.forms import SearchForm
from tests.support.contracts import make_manager
from tests.support.partners import client_for

WEB = Path(__file__).resolve().parents[2] / "src" / "keiin" / "web"
PO = WEB / "locale" / "ja" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _entries(path: Path) -> list[dict]:
    """A small .po parser: references, flags, msgid and msgstr(s) of each non-obsolete entry."""
    entries: list[dict] = []
    current: dict = {}
    field = None

    def flush() -> None:
        if "msgid" in current:
            entries.append(dict(current))
        current.clear()

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#~"):
            if not line:
                flush()
            field = None
            continue
        if line.startswith("#:"):
            if "msgid" in current:
                flush()
            current.setdefault("refs", []).extend(line[2:].split())
        elif line.startswith("#,"):
            current.setdefault("flags", set()).update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            current[field] += ast.literal_eval(line)
        else:
            keyword, _, value = line.partition(" ")
            field = keyword
            current[field] = ast.literal_eval(value)
    flush()
    return [e for e in entries if e["msgid"]]


def _contract_entries() -> list[dict]:
    return [e for e in _entries(PO) if any(r.startswith("contracts/") for r in e.get("refs", []))]


def test_every_contract_string_is_translated():
    entries = _contract_entries()
    assert len(entries) > 100  # the parser found the contract strings
    untranslated = [
        e["msgid"]
        for e in entries
        if not (e.get("msgstr") or e.get("msgstr[0]")) or "fuzzy" in e.get("flags", set())
    ]
    assert untranslated == []


def test_contract_translations_keep_their_placeholders():
    for e in _contract_entries():
        translated = e.get("msgstr") or e.get("msgstr[0]", "")
        assert sorted(PLACEHOLDER.findall(e["msgid"])) == sorted(PLACEHOLDER.findall(translated)), (
            e["msgid"]
        )


def test_catalogue_compiles_cleanly():
    result = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(PO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("english", "japanese"),
    [
        ("Contracts", "契約書"),
        ("Counterparty", "取引先"),
        ("Contract date", "契約日"),
        ("Amount (yen)", "金額（円）"),
        ("Organisation seal PIN", "組織印の暗証コード"),
        ("A contract has been concluded", "契約が締結されました"),
    ],
)
def test_key_strings_are_japanese(english, japanese):
    with translation.override("ja"):
        assert gettext(english) == japanese
    with translation.override("en"):
        assert gettext(english) == english


def test_search_form_and_empty_table_render_in_japanese():
    page = SimpleNamespace(object_list=[], has_other_pages=False)
    with translation.override("ja"):
        html = render_to_string("contracts/_search.html", {"form": SearchForm()})
        html += render_to_string("contracts/_table.html", {"page": page})
    for text in (
        "契約書の検索",
        "件名または受付番号",
        "契約日（から）",
        "検索",
        "該当する契約書はありません。",
    ):
        assert text in html
    assert "No contracts found." not in html


def test_sign_request_mail_renders_in_japanese():
    contract = SimpleNamespace(
        title="業務委託契約書", reference="C-2026-0001", sign_by=None, original_sha256=""
    )
    context = {
        "contract": contract,
        "user": SimpleNamespace(display_name="山田 太郎"),
        "operator": "契印株式会社",
        "link": "https://keiin.example.jp/",
    }
    with translation.override("ja"):
        text = render_to_string("contracts/mail/sign_request.txt", context)
    assert text.startswith("契約書への署名のお願い")
    assert "山田 太郎 様" in text
    assert "契印株式会社 から、ご署名をお願いする契約書が登録されました。" in text
    assert "暗証コードで署名してください" in text


@pytest.mark.django_db
def test_console_contract_list_is_japanese():
    response = client_for(make_manager()).get("/console/contracts/", HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>契約書</h1>" in html
    assert "契約書の新規作成" in html
    assert "組織印（電子印）" in html
    assert "New contract" not in html
