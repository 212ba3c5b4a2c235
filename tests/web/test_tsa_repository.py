"""The time-stamping pages of the repository (ja/en) and the signed token revocation list."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import subprocess
import time

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from keiin.pki.revocation import RevocationReason
from keiin.pki.serials import serial_to_hex
from keiin.tsa.clock import ClockStatus, ClockStatusFile
from keiin.web.ca import services
from keiin.web.timestamping import revocation_list
from keiin.web.timestamping import services as tsa_services
from keiin.web.timestamping.config import DEFAULT_TSA_POLICY, tsa_settings
from keiin.web.timestamping.models import IssuedToken, RevocationListSnapshot, TokenRevocation
from keiin.web.timestamping.serials import token_serials


def _colon(hex_digest: str) -> str:
    return ":".join(re.findall("..", hex_digest)).upper()


def _text(response) -> str:
    return response.content.decode()


@pytest.fixture
def tsa_env(monkeypatch):
    """Set TSA environment variables for one test (the settings are read once, so re-read)."""

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        tsa_settings.cache_clear()

    tsa_settings.cache_clear()
    yield set_env
    monkeypatch.undo()
    tsa_settings.cache_clear()


@pytest.fixture
def clock():
    """Write the shared clock status file of the test home; restored afterwards."""
    path = settings.HOME.run / "clock.status"
    before = path.read_bytes() if path.exists() else None
    status_file = ClockStatusFile(path)

    def write(state: str, offset: float | None = None, *, age: float = 0.0, source: str = ""):
        status_file.write(
            ClockStatus(
                state,
                offset,
                time.time() - age,
                source or f"127.0.0.1:12345 (stratum 1, state {state})",
                time.monotonic() - age,
            )
        )

    yield write
    status_file.close()
    if before is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(before)


@pytest.fixture
def issued_token(db):
    """A row of the issuance log, as the endpoint writes it for a customer's token."""

    def make(gen_time: dt.datetime | None = None) -> IssuedToken:
        sequence, serial = token_serials().next()
        return IssuedToken.objects.create(
            id=sequence,
            serial_hex=serial_to_hex(serial),
            gen_time=gen_time or timezone.now(),
            hash_algorithm="sha256",
            digest_hex="ab" * 32,
            policy=DEFAULT_TSA_POLICY,
            account=None,
            token_sha256="cd" * 32,
        )

    return make


def _list(client, query: str = "") -> tuple[dict, bytes, bytes]:
    """Download the revocation list and its token; returns (parsed, json bytes, tsr bytes)."""
    body = client.get(f"/tsa/revocations.json{query}")
    assert body.status_code == 200
    assert body["Content-Type"] == "application/json"
    token = client.get(f"/tsa/revocations.tsr{query}")
    assert token.status_code == 200
    assert token["Content-Type"] == "application/timestamp-reply"
    assert body["X-Keiin-Revocation-List-Number"] == token["X-Keiin-Revocation-List-Number"]
    return json.loads(body.content), body.content, token.content


def _openssl_verify(
    tmp_path, hierarchy, document: bytes, tsr: bytes
) -> subprocess.CompletedProcess:
    root = services.certificate_of(hierarchy.root.certificate_der)
    (tmp_path / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "revocations.json").write_bytes(document)
    (tmp_path / "revocations.tsr").write_bytes(tsr)
    return subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-in",
            str(tmp_path / "revocations.tsr"),
            "-data",
            str(tmp_path / "revocations.json"),
            "-CAfile",
            str(tmp_path / "root.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


# --------------------------------------------------------------------------- service page


def test_tsa_page_in_japanese(client, hierarchy, tsa_env):
    tsa_env(KEIIN_TSA_POLICIES=f"{DEFAULT_TSA_POLICY},1.2.3.4.5")
    response = client.get("/repository/tsa/")
    assert response.status_code == 200
    html = _text(response)
    assert '<html lang="ja">' in html
    assert "タイムスタンプサービス" in html
    assert "時刻の状態" in html
    assert f"{settings.KEIIN_BASE_URL}/tsa" in html
    assert "application/timestamp-query" in html
    assert "Bearer" in html
    assert html.index(DEFAULT_TSA_POLICY) < html.index("1.2.3.4.5")
    assert "既定" in html
    tsa = hierarchy.tsa
    assert tsa.common_name in html
    assert _colon(tsa.fingerprint_sha256) in html
    assert f'href="/repository/tsa/{tsa.serial_hex}.crt"' in html
    assert "使用中" in html
    assert 'href="/tsa/revocations.json"' in html
    assert 'href="/tsa/revocations.tsr"' in html
    assert f"{settings.KEIIN_BASE_URL}/tsa/revocations.json" in html
    assert 'data-revocations="0"' in html


def test_tsa_page_in_english(client, hierarchy):
    response = client.get("/en/repository/tsa/")
    assert response.status_code == 200
    html = _text(response)
    assert '<html lang="en">' in html
    assert "Time-stamping service" in html
    assert "Clock status" in html
    assert "Time-stamping unit certificates" in html
    assert "タイムスタンプサービス" not in html
    assert DEFAULT_TSA_POLICY in html
    assert 'href="/en/repository/tsa/policy/"' in html
    assert 'href="/en/repository/tsa/revocations/"' in html
    assert re.search(r'<a href="/repository/tsa/" hreflang="ja"', html)


def test_tsa_page_lists_previous_certificates(client, hierarchy):
    services.revoke(hierarchy.tsa, RevocationReason.SUPERSEDED, actor="test")
    html = _text(client.get("/en/repository/tsa/"))
    assert "Previous time-stamping unit certificates" in html
    assert "No time-stamping unit certificate is in use." in html
    assert "status--revoked" in html


def test_index_links_to_the_tsa_pages(client, hierarchy):
    html = _text(client.get("/en/repository/"))
    assert 'href="/en/repository/tsa/"' in html
    assert 'href="/en/repository/tsa/policy/"' in html
    html = _text(client.get("/repository/"))
    assert 'href="/repository/tsa/"' in html


# --------------------------------------------------------------------------- clock status


@pytest.mark.parametrize(
    ("state", "offset", "english", "japanese", "offset_text", "accepted"),
    [
        ("ok", 0.012, "Synchronised", "同期済み", "-12.0 ms", True),
        ("skewed", -5.0, "Out of tolerance", "許容範囲外", "+5000.0 ms", False),
        ("unknown", None, "Unknown", "不明", None, False),
        ("unchecked", None, "Not verified", "未検証", None, False),
    ],
)
def test_clock_status_states(
    client, hierarchy, clock, tsa_env, state, offset, english, japanese, offset_text, accepted
):
    tsa_env(KEIIN_NTP_SERVERS="none" if state == "unchecked" else "127.0.0.1:12345")
    clock(state, offset)
    html = _text(client.get("/en/repository/tsa/"))
    assert f'data-clock-state="{state}"' in html
    assert english in html
    if offset_text:
        assert offset_text in html
    else:
        assert "not measured" in html
    if accepted:
        assert ">accepted<" in html
    else:
        assert "refused (timeNotAvailable)" in html
    if state == "unchecked":
        assert "The clock is not verified" in html
        assert "none configured" in html
    else:
        assert "<code>127.0.0.1:12345</code>" in html
        assert "state " + state in html  # the source of the last check
    assert "Stale" not in html
    ja = _text(client.get("/repository/tsa/"))
    assert japanese in ja


def test_clock_unchecked_but_allowed_is_still_labelled_not_verified(
    client, hierarchy, clock, tsa_env
):
    tsa_env(KEIIN_NTP_SERVERS="none", KEIIN_TSA_ALLOW_UNCHECKED_CLOCK="1")
    clock("unchecked")
    html = _text(client.get("/en/repository/tsa/"))
    assert "Not verified" in html
    assert "The clock is not verified" in html
    assert ">accepted<" in html


def test_clock_stale_check_is_flagged(client, hierarchy, clock, tsa_env):
    tsa_env(KEIIN_NTP_INTERVAL="64")
    clock("ok", 0.001, age=3600)
    html = _text(client.get("/en/repository/tsa/"))
    assert 'data-clock-state="ok"' in html
    assert "Stale" in html
    assert "refused (timeNotAvailable)" in html


def test_clock_never_checked(client, hierarchy, clock):
    (settings.HOME.run / "clock.status").unlink(missing_ok=True)
    html = _text(client.get("/en/repository/tsa/"))
    assert 'data-clock-state="unknown"' in html
    assert "never" in html


# --------------------------------------------------------------------------- policy page


def test_tsa_policy_in_japanese(client, hierarchy, tsa_env):
    tsa_env(KEIIN_NTP_SERVERS="ntp.nict.jp, 127.0.0.1:12345")
    response = client.get("/repository/tsa/policy/")
    assert response.status_code == 200
    html = _text(response)
    assert '<html lang="ja">' in html
    assert "時刻認証ポリシー" in html
    assert "±1秒" in html
    assert "<code>ntp.nict.jp</code>" in html
    assert "<code>127.0.0.1:12345</code>" in html
    assert "timeNotAvailable" in html
    assert "badAlg" in html
    assert "コード署名" in html
    assert "第10条第5項" in html
    assert "第8条第3項" in html
    assert "keiin tsa verify --data FILE --token FILE.tsr" in html
    assert "令和3年総務省告示第146号" in html
    assert "認定" in html
    assert "PAdES-LTA" in html
    assert "翌月" in html
    not_after = timezone.localtime(hierarchy.tsa.not_after)
    assert f'datetime="{not_after.isoformat()}"' in html
    assert DEFAULT_TSA_POLICY in html
    assert _colon(hierarchy.root.fingerprint_sha256) in html


def test_tsa_policy_in_english(client, hierarchy, tsa_env):
    tsa_env(KEIIN_TSA_ACCURACY_MS="500", KEIIN_TSA_CLOCK_TOLERANCE="0.25")
    response = client.get("/en/repository/tsa/policy/")
    assert response.status_code == 200
    html = _text(response)
    assert "Time-stamping policy" in html
    assert "時刻認証ポリシー" not in html
    assert "±500 milliseconds" in html
    assert "250 milliseconds" in html
    for term in (
        "SHA-256, SHA-384, SHA-512",
        "SHA-1, MD5",
        "badAlg",
        "timeNotAvailable",
        "ECDSA P-256 / SHA-256",
        "RFC 5816",
        "signingCertificateV2",
        "ETSI EN 319 422",
        "code signatures",
        "article 10.5",
        "article 8.3",
        "keiin tsa verify --data FILE --token FILE.tsr",
        "PAdES-LTA",
        "not an accredited time-stamping service",
        "令和3年総務省告示第146号",
        "trust list",
        "billed in the month after",
        f"{settings.KEIIN_BASE_URL}/tsa/revocations.json",
    ):
        assert term in html, term
    assert hierarchy.tsa.not_after.astimezone(dt.UTC).strftime("%Y-%m-%d") in html or (
        timezone.localtime(hierarchy.tsa.not_after).strftime("%Y-%m-%d") in html
    )


@pytest.mark.django_db
def test_tsa_pages_before_the_hierarchy_exists(client):
    for url in (
        "/en/repository/tsa/",
        "/en/repository/tsa/policy/",
        "/repository/tsa/revocations/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    assert "No time-stamping unit certificate is in use." in _text(
        client.get("/en/repository/tsa/policy/")
    )


# --------------------------------------------------------------------------- revocation list


def test_list_is_published_lazily_and_only_once(client, hierarchy):
    assert RevocationListSnapshot.objects.count() == 0
    parsed, document, _tsr = _list(client)
    assert parsed["version"] == 1
    assert parsed["number"] == 1
    assert parsed["revocations"] == []
    tsa_subject = services.certificate_of(hierarchy.tsa.certificate_der).subject
    assert parsed["issuer"] == tsa_subject.rfc4514_string()
    assert parsed["published_at"].endswith("Z")
    # Canonical form: sorted keys, no white space, UTF-8.
    assert (
        document
        == json.dumps(parsed, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    )
    again, _, _ = _list(client)
    assert again["number"] == 1
    assert RevocationListSnapshot.objects.count() == 1


def test_list_after_revocations(client, hierarchy, issued_token, tmp_path):
    token = issued_token()
    tsa_services.revoke_token_serial(token.serial_hex.upper(), "issued by mistake", actor="test")
    first, _, _ = _list(client)
    assert [r.get("serial") for r in first["revocations"]] == [token.serial_hex]
    assert first["revocations"][0]["reason"] == "issued by mistake"
    assert first["revocations"][0]["revoked_at"].endswith("Z")

    start = dt.datetime(2026, 1, 5, 3, 0, 0, tzinfo=dt.UTC)
    end = dt.datetime(2026, 1, 5, 3, 30, 0, 500000, tzinfo=dt.UTC)
    tsa_services.revoke_token_window(start, end, "clock incident 2026-01-05", actor="test")
    second, document, tsr = _list(client)
    assert second["number"] == first["number"] + 1
    assert second["revocations"][0] == first["revocations"][0]
    window = second["revocations"][1]
    assert window["window_start"] == "2026-01-05T03:00:00Z"
    assert window["window_end"] == "2026-01-05T03:30:00.500000Z"
    assert window["reason"] == "clock incident 2026-01-05"
    assert "serial" not in window

    # The .tsr verifies against the JSON with OpenSSL, and not against a modified JSON.
    result = _openssl_verify(tmp_path, hierarchy, document, tsr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification: OK" in result.stdout
    tampered = document.replace(b"clock incident", b"clock incidenT")
    result = _openssl_verify(tmp_path, hierarchy, tampered, tsr)
    assert result.returncode != 0
    assert "Verification: OK" not in result.stdout

    # The list's token is an ordinary token of the issuance log.
    resp = tsp.TimeStampResp.load(tsr)
    assert resp["status"]["status"].native == "granted"
    info = resp["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    serial_hex = serial_to_hex(info["serial_number"].native)
    assert info["serial_number"].native.bit_length() > 64
    row = IssuedToken.objects.get(serial_hex=serial_hex)
    assert row.account is None
    assert row.hash_algorithm == "sha256"
    assert row.digest_hex == hashlib.sha256(document).hexdigest()
    assert row.policy == DEFAULT_TSA_POLICY == info["policy"].dotted
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(document).digest()
    token_der = resp["time_stamp_token"].dump()
    assert row.token_sha256 == hashlib.sha256(token_der).hexdigest()
    certs = resp["time_stamp_token"]["content"]["certificates"]
    assert any(
        c.chosen.dump() == bytes(hierarchy.tsa.certificate_der) for c in certs
    )  # certReq was set
    snapshot = RevocationListSnapshot.objects.get(number=second["number"])
    assert snapshot.token_serial_hex == serial_hex
    assert snapshot.entries == 2


def test_every_revocation_publishes_in_its_own_transaction(client, hierarchy, issued_token):
    tokens = [issued_token() for _ in range(3)]
    for i, token in enumerate(tokens, start=1):
        tsa_services.revoke_token_serial(token.serial_hex, f"reason {i}", actor="test")
        assert revocation_list.newest().number == i
        assert revocation_list.newest().entries == i
    assert RevocationListSnapshot.objects.count() == 3
    # Each list token is in the issuance log, with no account.
    assert IssuedToken.objects.filter(account=None).count() == 3 + 3


def test_a_refused_revocation_publishes_nothing(client, hierarchy):
    with pytest.raises(tsa_services.TsaServiceError):
        tsa_services.revoke_token_serial("abcdef", "no such token", actor="test")
    assert RevocationListSnapshot.objects.count() == 0


def test_list_catches_up_with_revocations_it_missed(client, hierarchy):
    _list(client)
    TokenRevocation.objects.create(serial_hex="abc", reason="entered directly", actor="test")
    parsed, _, _ = _list(client)
    assert parsed["number"] == 2
    assert parsed["revocations"][0]["serial"] == "abc"


def test_numbered_lists_stay_available(client, hierarchy, issued_token, tmp_path):
    first, _, _ = _list(client)
    tsa_services.revoke_token_serial(issued_token().serial_hex, "mistake", actor="test")
    current, _, _ = _list(client)
    assert current["number"] == first["number"] + 1
    old, document, tsr = _list(client, f"?number={first['number']}")
    assert old == first
    assert "public, max-age=86400" in client.get("/tsa/revocations.json?number=1")["Cache-Control"]
    result = _openssl_verify(tmp_path, hierarchy, document, tsr)
    assert "Verification: OK" in result.stdout


def test_revocation_without_a_tsa_certificate_is_kept(client, hierarchy, issued_token):
    _list(client)
    services.revoke(hierarchy.tsa, RevocationReason.KEY_COMPROMISE, actor="test")
    start = timezone.now() - dt.timedelta(days=1)
    row, _ = tsa_services.revoke_token_window(start, timezone.now(), "key compromise", actor="test")
    assert TokenRevocation.objects.filter(pk=row.pk).exists()
    assert RevocationListSnapshot.objects.count() == 1
    # The old list is still served (signed with the revoked certificate, which verifiers see).
    parsed, _, _ = _list(client)
    assert parsed["number"] == 1


@pytest.mark.django_db
def test_no_list_without_any_tsa_certificate(client):
    for url in ("/tsa/revocations.json", "/tsa/revocations.tsr"):
        response = client.get(url)
        assert response.status_code == 503
        assert response["Content-Type"].startswith("text/plain")


def test_revocation_table(client, hierarchy, issued_token):
    token = issued_token()
    tsa_services.revoke_token_serial(token.serial_hex, "発行の誤り", actor="test")
    start = dt.datetime(2026, 1, 5, 3, 0, tzinfo=dt.UTC)
    tsa_services.revoke_token_window(
        start, start + dt.timedelta(minutes=30), "clock incident", actor="test"
    )
    ja = _text(client.get("/repository/tsa/revocations/"))
    assert "タイムスタンプトークン失効リスト" in ja
    assert f'data-serial="{token.serial_hex}"' in ja
    assert "発行の誤り" in ja
    assert "2026-01-05 12:00:00 JST" in ja  # the window, in Japan time
    assert 'data-list-number="2"' in ja
    en = _text(client.get("/en/repository/tsa/revocations/"))
    assert "Token revocation list" in en
    assert "clock incident" in en
    assert "All tokens from 2026-01-05 12:00:00 JST until 2026-01-05 12:30:00 JST" in en
    assert 'href="/tsa/revocations.tsr"' in en
    overview = _text(client.get("/en/repository/tsa/"))
    assert 'data-revocations="2"' in overview


def test_empty_revocation_table(client, hierarchy):
    html = _text(client.get("/en/repository/tsa/revocations/"))
    assert "No token has been revoked." in html
    assert "トークン" not in html


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "url",
    [
        "/repository/tsa/nothing/",
        "/en/repository/tsa/policy/more/",
        "/repository/tsa/revocations.json",
        "/en/tsa/revocations.json",
        "/tsa/revocations.xml",
        "/tsa/revocations.json/",
        "/tsa/revocations.json?number=abc",
        "/tsa/revocations.json?number=-1",
        "/tsa/revocations.json?number=99999",
        "/tsa/revocations.tsr?number=1.0",
        "/tsa/revocations.tsr?number=" + "9" * 40,
    ],
)
def test_unknown_things_are_404(client, hierarchy, url):
    assert client.get(url).status_code == 404


def test_downloads_and_pages_refuse_post(client, hierarchy):
    for url in ("/tsa/revocations.json", "/tsa/revocations.tsr", "/repository/tsa/"):
        assert client.post(url).status_code == 405


def test_head_requests(client, hierarchy):
    assert client.head("/tsa/revocations.json").status_code == 200
    assert client.head("/tsa/revocations.tsr").status_code == 200


def test_the_published_paths_are_the_routed_ones():
    assert reverse("tsa-revocations-json") == revocation_list.JSON_PATH
    assert reverse("tsa-revocations-tsr") == revocation_list.TSR_PATH


def test_the_list_issuer_is_the_tsa_certificate_subject(client, hierarchy):
    parsed, _, tsr = _list(client)
    resp = tsp.TimeStampResp.load(tsr)
    certs = resp["time_stamp_token"]["content"]["certificates"]
    tsa_cert = x509.load_der_x509_certificate(certs[0].chosen.dump())
    assert parsed["issuer"] == tsa_cert.subject.rfc4514_string()
