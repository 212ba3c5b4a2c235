"""The public repository pages (ja/en), CA/TSA downloads and notices."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.utils import timezone

from keiin.pki.profiles import SubjectInfo
from keiin.pki.revocation import RevocationReason
from keiin.web.ca import services
from keiin.web.ca.config import policy
from keiin.web.ca.models import CertificateAuthority, Crl
from keiin.web.repository.models import Notice
from keiin.web.repository.periods import describe_period


def _colon(hex_digest: str) -> str:
    return ":".join(re.findall("..", hex_digest)).upper()


def _text(response) -> str:
    return response.content.decode()


# --------------------------------------------------------------------------- index


def test_index_in_japanese_shows_every_ca(client, hierarchy):
    response = client.get("/repository/")
    assert response.status_code == 200
    html = _text(response)
    assert '<html lang="ja">' in html
    assert "認証局リポジトリ" in html
    assert "証明書失効リスト（CRL）" in html
    for ca in CertificateAuthority.objects.all():
        assert ca.name in html
        assert _colon(ca.fingerprint_sha256) in html
        assert f'data-sha256="{ca.fingerprint_sha256}"' in html
        sha1 = hashlib.sha1(bytes(ca.certificate_der), usedforsecurity=False).hexdigest()
        assert _colon(sha1) in html
        assert f'href="/ca/{ca.slug}.crt"' in html
        assert f'href="/ca/{ca.slug}.pem"' in html
        assert f'href="/crl/{ca.slug}.crl"' in html
    assert f"{settings.KEIIN_BASE_URL}/ocsp" in html
    assert html.count('data-crl-number="1"') == 2


def test_index_in_english(client, hierarchy):
    response = client.get("/en/repository/")
    assert response.status_code == 200
    html = _text(response)
    assert '<html lang="en">' in html
    assert "Certificate repository" in html
    assert "Certification authorities" in html
    assert "認証局リポジトリ" not in html
    assert _colon(hierarchy.root.fingerprint_sha256) in html
    assert f"{settings.KEIIN_BASE_URL}/ocsp" in html
    assert 'href="/en/repository/policy/"' in html


def test_index_shows_the_tsa_certificate(client, hierarchy):
    html = _text(client.get("/repository/"))
    tsa = hierarchy.tsa
    assert tsa.common_name in html
    assert _colon(tsa.fingerprint_sha256) in html
    assert f'href="/repository/tsa/{tsa.serial_hex}.crt"' in html
    assert "使用中" in html


def test_index_shows_the_newest_crl_number_after_a_revocation(client, hierarchy):
    key = ec.generate_private_key(ec.SECP256R1())
    signer = services.issue_signer(
        SubjectInfo("Taro Yamada", "Example KK", email="taro@example.test"),
        key.public_key(),
        actor="test",
    )
    services.revoke(signer, RevocationReason.KEY_COMPROMISE, actor="test")
    html = _text(client.get("/en/repository/"))
    issuing = re.search(r'id="ca-issuing-ca-1".*?</article>', html, re.S).group(0)
    assert 'data-crl-number="2"' in issuing
    root = re.search(r'id="ca-root-ca-1".*?</article>', html, re.S).group(0)
    assert 'data-crl-number="1"' in root


def test_index_never_publishes_a_crl(client, hierarchy):
    Crl.objects.update(
        this_update=timezone.now() - dt.timedelta(days=60),
        next_update=timezone.now() - dt.timedelta(days=30),
    )
    before = Crl.objects.count()
    assert client.get("/repository/").status_code == 200
    assert Crl.objects.count() == before


def test_revoked_tsa_certificate_is_listed_as_history(client, hierarchy):
    services.revoke(hierarchy.tsa, RevocationReason.SUPERSEDED, actor="test")
    html = _text(client.get("/en/repository/"))
    assert "Previous time-stamping unit certificates" in html
    assert "No time-stamping unit certificate is in use." in html
    assert "status--revoked" in html
    assert "superseded" in html


@pytest.mark.django_db
def test_index_before_the_hierarchy_exists(client):
    response = client.get("/en/repository/")
    assert response.status_code == 200
    assert "has not been set up yet" in _text(response)


def test_pages_refuse_post(client, hierarchy):
    assert client.post("/repository/").status_code == 405


# --------------------------------------------------------------------------- navigation


@pytest.mark.django_db
def test_root_redirects_to_the_repository(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/repository/"
    response = client.get("/en/")
    assert response.status_code == 302
    assert response["Location"] == "/en/repository/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "other"),
    [
        ("/repository/", "/en/repository/"),
        ("/en/repository/", "/repository/"),
        ("/repository/policy/", "/en/repository/policy/"),
        ("/en/repository/notices/", "/repository/notices/"),
    ],
)
def test_language_switch_links_to_the_same_page(client, url, other):
    html = _text(client.get(url))
    assert re.search(rf'<a href="{re.escape(other)}" hreflang="(ja|en)"', html)


# --------------------------------------------------------------------------- downloads


def test_ca_downloads_parse_as_certificates(client, hierarchy):
    for ca in (hierarchy.root, hierarchy.issuing):
        der = client.get(f"/ca/{ca.slug}.crt")
        assert der.status_code == 200
        assert der["Content-Type"] == "application/pkix-cert"
        cert = x509.load_der_x509_certificate(der.content)
        assert hashlib.sha256(der.content).hexdigest() == ca.fingerprint_sha256
        pem = client.get(f"/ca/{ca.slug}.pem")
        assert pem.status_code == 200
        assert x509.load_pem_x509_certificate(pem.content) == cert
        crl = client.get(f"/crl/{ca.slug}.crl")
        assert crl["Content-Type"] == "application/pkix-crl"
        assert x509.load_der_x509_crl(crl.content).issuer == cert.subject


def test_tsa_downloads_parse_as_certificates(client, hierarchy):
    tsa = hierarchy.tsa
    for url in (
        f"/repository/tsa/{tsa.serial_hex}.crt",
        f"/repository/tsa/{tsa.serial_hex.upper()}.crt",
        f"/en/repository/tsa/{tsa.serial_hex}.crt",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"] == "application/pkix-cert"
        assert hashlib.sha256(response.content).hexdigest() == tsa.fingerprint_sha256
        cert = x509.load_der_x509_certificate(response.content)
        assert cert.serial_number == int(tsa.serial_hex, 16)
    pem = client.get(f"/repository/tsa/{tsa.serial_hex}.pem")
    assert pem.status_code == 200
    assert pem["Content-Type"] == "application/x-pem-file"
    assert x509.load_pem_x509_certificate(pem.content).serial_number == int(tsa.serial_hex, 16)


@pytest.mark.parametrize(
    "url",
    [
        "/ca/no-such-ca.crt",
        "/ca/no-such-ca.pem",
        "/crl/no-such-ca.crl",
        "/repository/tsa/ffffffffffffffff.crt",
        "/repository/tsa/ffffffffffffffff.pem",
        "/repository/tsa/0.crt",
        "/repository/tsa/not-hex.crt",
        "/repository/tsa/.crt",
        "/en/repository/tsa/abc.crt",
        "/repository/nothing-here/",
    ],
)
def test_unknown_things_are_404(client, hierarchy, url):
    response = client.get(url)
    assert response.status_code == 404


def test_a_non_tsa_serial_is_404_on_the_tsa_route(client, hierarchy):
    responder = services.current_ocsp_responder(hierarchy.root)
    assert client.get(f"/repository/tsa/{responder.serial_hex}.crt").status_code == 404


@pytest.mark.django_db
def test_404_page_uses_the_layout(client):
    response = client.get("/en/repository/missing/")
    assert response.status_code == 404
    assert "Page not found" in _text(response)
    response = client.get("/repository/missing/")
    assert "ページが見つかりません" in _text(response)


# --------------------------------------------------------------------------- policy


def test_policy_page_in_japanese(client, hierarchy):
    response = client.get("/repository/policy/")
    assert response.status_code == 200
    html = _text(response)
    assert "証明書ポリシー" in html
    assert "認定認証業務ではありません" in html
    assert "電子署名法" in html
    assert "WebTrust" in html
    assert policy().policy_oid in html
    assert _colon(hierarchy.root.fingerprint_sha256) in html
    assert "20年（7300日）" in html


def test_policy_page_in_english(client, hierarchy):
    response = client.get("/en/repository/policy/")
    assert response.status_code == 200
    html = _text(response)
    assert "Certificate policy (summary)" in html
    assert "not an accredited certification business" in html
    assert "WebTrust" in html
    assert "CRYPTREC" in html
    assert "keyCompromise" in html
    assert policy().policy_oid in html
    assert f"{settings.KEIIN_BASE_URL}/ocsp" in html
    assert "20 years (7300 days)" in html


# --------------------------------------------------------------------------- notices


@pytest.fixture
def notices(db):
    now = timezone.now()
    older = Notice.objects.create(
        title_ja="ルート証明書を公開しました",
        title_en="Root certificate published",
        body_ja="本文です。",
        body_en="The body.",
        published_at=now - dt.timedelta(days=2),
    )
    newer = Notice.objects.create(
        title_ja="計画メンテナンスのお知らせ",
        title_en="Planned maintenance",
        body_ja="メンテナンスを行います。",
        body_en="We will do maintenance.",
        published_at=now - dt.timedelta(hours=1),
    )
    japanese_only = Notice.objects.create(
        title_ja="日本語だけのお知らせ",
        body_ja="英語版はありません。",
        published_at=now - dt.timedelta(days=3),
    )
    Notice.objects.create(
        title_ja="非公開の下書き",
        title_en="Unpublished draft",
        body_ja="下書き",
        is_published=False,
        published_at=now - dt.timedelta(days=1),
    )
    Notice.objects.create(
        title_ja="予約掲載",
        title_en="Scheduled notice",
        body_ja="まだです",
        published_at=now + dt.timedelta(days=1),
    )
    return older, newer, japanese_only


def test_notices_in_japanese(client, notices):
    response = client.get("/repository/notices/")
    assert response.status_code == 200
    html = _text(response)
    assert "お知らせ" in html
    assert html.index("計画メンテナンスのお知らせ") < html.index("ルート証明書を公開しました")
    assert "日本語だけのお知らせ" in html
    assert "Planned maintenance" not in html
    assert "非公開の下書き" not in html
    assert "予約掲載" not in html


def test_notices_in_english(client, notices):
    response = client.get("/en/repository/notices/")
    assert response.status_code == 200
    html = _text(response)
    assert html.index("Planned maintenance") < html.index("Root certificate published")
    assert "We will do maintenance." in html
    assert "計画メンテナンスのお知らせ" not in html
    # Without an English text the Japanese one is shown, marked as Japanese.
    assert f'<h2 id="notice-{notices[2].pk}-title" lang="ja">日本語だけのお知らせ' in html
    assert "available in Japanese only" in html
    assert "Unpublished draft" not in html
    assert "Scheduled notice" not in html


def test_index_previews_the_newest_notices(client, hierarchy, notices):
    html = _text(client.get("/en/repository/"))
    assert f'href="/en/repository/notices/#notice-{notices[1].pk}"' in html
    assert "Unpublished draft" not in html


@pytest.mark.django_db
def test_no_notices(client):
    assert "There are no notices" in _text(client.get("/en/repository/notices/"))
    assert "現在、お知らせはありません" in _text(client.get("/repository/notices/"))


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("period", "english"),
    [
        (dt.timedelta(days=365 * 20), "20 years (7300 days)"),
        (dt.timedelta(days=90), "90 days"),
        (dt.timedelta(days=1), "1 day"),
        (dt.timedelta(hours=96), "4 days"),
        (dt.timedelta(hours=180), "7 days 12 hours"),
        (dt.timedelta(hours=36), "36 hours"),
        (dt.timedelta(minutes=90), "90 minutes"),
    ],
)
def test_describe_period(period, english):
    from django.utils import translation

    with translation.override("en"):
        assert describe_period(period) == english
