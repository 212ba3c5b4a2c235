"""Signatory certificates under a PIN: issuance with receipt, signing, lockout, revocation.

Mail goes over real SMTP (aiosmtpd on loopback); the transactions are real (mail is sent
after commit). Argon2 runs with small parameters here (an explicit setting, not a patch).
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import Client
from django.utils import timezone

from keiin.web.accounts.models import Role
from keiin.web.audit.models import AuditEvent
from keiin.web.ca import services as ca_services
from keiin.web.ca.models import IssuedCertificate
from keiin.web.credentials import services
from keiin.web.credentials.models import SignerCredential
from keiin.web.credentials.pepper import reset_pepper
from keiin.web.partners import services as partner_services
from tests.support.partners import client_for, make_staff, register

pytest_plugins = ["tests.support.smtp", "tests.support.custody"]
pytestmark = pytest.mark.django_db(transaction=True)

PIN = "583920"
OTHER_PIN = "719305"


@pytest.fixture(autouse=True)
def _fast_kdf(fast_custody):
    """Every test here creates credentials."""


@pytest.fixture
def setup(smtp_server):
    ca_services.ensure_hierarchy("Test Operator", actor="test")
    registered = register(smtp_server)
    return registered, smtp_server


def _request(client: Client, slug: str, pin: str = PIN, again: str | None = None, **extra):
    data = {"action": "request", "pin": pin, "pin_confirm": again or pin, "acknowledge": "on"}
    data.update(extra)
    return client.post(
        f"/p/{slug}/certificate/",
        data,
        HTTP_USER_AGENT="pytest-browser/1.0",
        REMOTE_ADDR="192.0.2.7",
    )


def _issue(setup_):
    registered, smtp = setup_
    client = client_for(registered.user)
    response = _request(client, registered.slug)
    assert response.status_code == 302, response.content.decode()[:2000]
    return registered, smtp, client, SignerCredential.objects.get(user=registered.user)


def test_setting_the_pin_issues_the_certificate_and_records_receipt(setup):
    registered, smtp, client, credential = _issue(setup)
    user = registered.user
    assert credential.status == "active" and credential.pin_failures == 0
    assert credential.receipt_ip == "192.0.2.7"
    assert credential.receipt_user_agent == "pytest-browser/1.0"
    assert credential.terms_version
    cert = x509.load_der_x509_certificate(bytes(credential.certificate.certificate_der))
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == user.display_name
    assert (
        subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        == registered.partner.company_name()
    )
    emails = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert user.email in emails.get_values_for_type(x509.RFC822Name)
    # What is stored is ciphertext under PIN + pepper: salt, nonce, AES-GCM output.
    record = credential.record
    assert record["destroyed"] is False and record["ciphertext"] and record["salt"]
    assert record["tenant"] == f"partner-{registered.partner.pk}"
    assert "PRIVATE KEY" not in str(record)
    event = AuditEvent.objects.filter(action="credential.issued").get()
    assert event.data["receipt_ip"] == "192.0.2.7"
    issued_mail = smtp.last_to(user.email)
    assert "証明書" in issued_mail.subject or "certificate" in issued_mail.subject.lower()
    assert credential.certificate.serial_hex in issued_mail.body
    # The page and the home section show it.
    page = client.get(f"/p/{registered.slug}/certificate/").content.decode()
    assert credential.certificate.serial_hex in page
    home = client.get(f"/p/{registered.slug}/").content.decode()
    assert credential.certificate.serial_hex in home


@pytest.mark.parametrize(
    ("pin", "again"),
    [("123456", None), ("000000", None), ("12345", None), ("58392a", None), (PIN, "583921")],
)
def test_weak_or_mismatched_pins_are_refused_and_nothing_is_issued(setup, pin, again):
    registered, _smtp = setup
    client = client_for(registered.user)
    response = _request(client, registered.slug, pin, again)
    assert response.status_code == 400
    assert not SignerCredential.objects.exists()
    assert not IssuedCertificate.objects.filter(profile="signer").exists()


def test_receipt_must_be_acknowledged(setup):
    registered, _smtp = setup
    client = client_for(registered.user)
    data = {"action": "request", "pin": PIN, "pin_confirm": PIN}
    response = client.post(f"/p/{registered.slug}/certificate/", data)
    assert response.status_code == 400
    assert not SignerCredential.objects.exists()


def test_a_partner_user_who_is_not_a_signatory_gets_no_certificate_page(smtp_server):
    ca_services.ensure_hierarchy("Test Operator", actor="test")
    registered = register(smtp_server, role=Role.PARTNER_USER)
    client = client_for(registered.user)
    assert client.get(f"/p/{registered.slug}/certificate/").status_code == 404
    assert _request(client, registered.slug).status_code == 404


def test_another_partners_signatory_cannot_reach_the_page(setup):
    registered, smtp = setup
    other = register(smtp, name_en="Other Trading K.K.", email="other@other.example.jp")
    client = client_for(other.user)
    assert client.get(f"/p/{registered.slug}/certificate/").status_code == 404
    assert _request(client, registered.slug).status_code == 404
    assert not SignerCredential.objects.exists()


def test_the_right_pin_opens_the_key_for_one_signature(setup):
    _registered, _smtp, _client, credential = _issue(setup)
    with services.open_for_signing(credential, PIN, actor="test") as unlocked:
        cert = x509.load_der_x509_certificate(bytes(credential.certificate.certificate_der))
        assert unlocked.public_key_der == cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signer = unlocked.signer(cert)
        signature = signer.sign_raw(b"contract bytes", "sha256")
    cert.public_key().verify(signature, b"contract bytes", ec.ECDSA(hashes.SHA256()))
    credential.refresh_from_db()
    assert credential.pin_failures == 0 and credential.last_used_at is not None


def test_wrong_pins_count_down_reset_on_success_and_lock_at_five(setup):
    _registered, smtp, _client, credential = _issue(setup)
    for left in (4, 3):
        with pytest.raises(services.PinRejectedError) as caught:
            services.open_for_signing(credential, OTHER_PIN, actor="test")
        assert caught.value.attempts_left == left
    services.open_for_signing(credential, PIN, actor="test").close()
    credential.refresh_from_db()
    assert credential.pin_failures == 0
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(services.PinRejectedError) as caught:
            services.open_for_signing(credential, OTHER_PIN, actor="test")
        assert caught.value.attempts_left == left
    credential.refresh_from_db()
    assert credential.status == "locked"
    # Locked means locked: the right PIN no longer opens it, and nothing more is counted.
    with pytest.raises(services.CredentialError, match="locked"):
        services.open_for_signing(credential, PIN, actor="test")
    credential.refresh_from_db()
    assert credential.pin_failures == 5
    locked_mail = smtp.last_to(credential.user.email)
    assert "ロック" in locked_mail.subject or "locked" in locked_mail.subject.lower()
    assert AuditEvent.objects.filter(action="credential.pin_failed").count() == 7


def test_the_database_without_the_pepper_cannot_open_a_key(setup, monkeypatch, tmp_path):
    _registered, _smtp, _client, credential = _issue(setup)
    monkeypatch.setenv("KEIIN_CUSTODY_PEPPER_FILE", str(tmp_path / "another-pepper"))
    reset_pepper()
    with pytest.raises(services.ServerFaultError):
        services.open_for_signing(credential, PIN, actor="test")
    credential.refresh_from_db()
    assert credential.pin_failures == 0  # a server fault is not the signatory's wrong PIN


def test_change_pin(setup):
    _registered, _smtp, _client, credential = _issue(setup)
    with pytest.raises(services.PinRejectedError):
        services.change_pin(credential, OTHER_PIN, "902718", actor="test")
    services.change_pin(credential, PIN, "902718", actor="test")
    with pytest.raises(services.PinRejectedError):
        services.open_for_signing(credential, PIN, actor="test")
    services.open_for_signing(credential, "902718", actor="test").close()


def test_operator_revokes_a_leaked_key_with_an_invalidity_date(setup):
    registered, smtp, _client, credential = _issue(setup)
    staff = client_for(make_staff())
    since = (timezone.localtime() - dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    response = staff.post(
        f"/console/credentials/{credential.credential_id}/",
        {"reason": "keyCompromise", "invalidity_date": since, "note": "reported by phone"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    credential.refresh_from_db()
    cert = IssuedCertificate.objects.get(pk=credential.certificate_id)
    assert credential.status == "revoked"
    assert cert.status == IssuedCertificate.Status.REVOKED
    assert cert.revocation_reason == "keyCompromise" and cert.invalidity_date is not None
    assert credential.record["destroyed"] is True and not credential.record["ciphertext"]
    serial = int(cert.serial_hex, 16)
    entry = ca_services.certificate_statuses(cert.issuer_id, [serial])[serial]
    assert entry is not None and entry.reason.value == "keyCompromise"
    with pytest.raises(services.CredentialError, match="revoked"):
        services.open_for_signing(credential, PIN, actor="test")
    revoked_mail = smtp.last_to(registered.user.email)
    assert "失効" in revoked_mail.subject or "revoked" in revoked_mail.subject.lower()
    # ... and a new certificate can be requested.
    assert _request(client_for(registered.user), registered.slug, "902718").status_code == 302
    assert SignerCredential.objects.filter(status="active").count() == 1


def test_partner_users_cannot_use_the_console_pages(setup):
    _registered, _smtp, client, credential = _issue(setup)
    assert client.get("/console/credentials/").status_code == 403
    response = client.post(
        f"/console/credentials/{credential.credential_id}/", {"reason": "keyCompromise"}
    )
    assert response.status_code == 403
    credential.refresh_from_db()
    assert credential.status == "active"


def test_the_signatory_can_revoke_their_own(setup):
    registered, _smtp, client, credential = _issue(setup)
    response = client.post(
        f"/p/{registered.slug}/certificate/",
        {"action": "revoke", "reason": "keyCompromise", "confirm": "on"},
    )
    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.status == "revoked" and credential.revocation_reason == "keyCompromise"


def test_removing_the_user_revokes_affiliation_changed(setup):
    registered, smtp, _client, credential = _issue(setup)
    partner_services.remove_user(registered.user, "left the company", actor="staff:test")
    credential.refresh_from_db()
    assert credential.status == "revoked"
    assert credential.revocation_reason == "affiliationChanged"
    assert IssuedCertificate.objects.get(pk=credential.certificate_id).status == "revoked"
    subjects = [m.subject for m in smtp.to(registered.user.email)]
    assert any("失効" in s or "revoked" in s.lower() for s in subjects), subjects


def test_a_name_change_supersedes_and_asks_for_a_new_certificate(setup):
    registered, smtp, _client, credential = _issue(setup)
    user = registered.user
    partner_services.edit_user(
        user, display_name="署名 一郎（新姓）", email=user.email, role=user.role, actor="staff:test"
    )
    credential.refresh_from_db()
    assert credential.status == "revoked" and credential.revocation_reason == "superseded"
    subjects = [m.subject for m in smtp.to(user.email)]
    assert any("新しい" in s or "new signature certificate" in s.lower() for s in subjects), (
        subjects
    )
