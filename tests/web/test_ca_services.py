"""keiin.web.ca.services: the CA over the database."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.utils import timezone

from keiin.pki import ocsp
from keiin.pki.keys import KeyAlgorithm, generate_private_key
from keiin.pki.keystore import KeyStoreError
from keiin.pki.profiles import Profile, SubjectInfo
from keiin.pki.revocation import RevocationReason, RevokedEntry
from keiin.web.audit.log import verify
from keiin.web.audit.models import AuditEvent
from keiin.web.ca import services
from keiin.web.ca.config import policy
from keiin.web.ca.models import CertificateAuthority, Crl, IssuedCertificate

SUBJECT = SubjectInfo("山田 太郎", "Example KK", email="taro.yamada@example.jp")


def _key_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in settings.HOME.keys.glob("*.key")}


def _latest_crl(ca: CertificateAuthority) -> Crl:
    return Crl.objects.filter(ca=ca).order_by("-number").first()


def _issue(common_name: str = "山田 太郎", **kwargs) -> IssuedCertificate:
    subject = SubjectInfo(common_name, "Example KK", email="taro.yamada@example.jp")
    key = generate_private_key(KeyAlgorithm.EC_P256)
    return services.issue_signer(subject, key.public_key(), actor="test", **kwargs)


# --------------------------------------------------------------------------- hierarchy


def test_hierarchy_shape(hierarchy):
    root, issuing, tsa = hierarchy.root, hierarchy.issuing, hierarchy.tsa
    assert hierarchy.created
    assert root.kind == CertificateAuthority.Kind.ROOT and root.parent is None
    assert issuing.kind == CertificateAuthority.Kind.ISSUING and issuing.parent_id == root.pk
    assert root.slug == services.ROOT_SLUG and issuing.slug == services.ISSUING_SLUG
    assert root.name == "Test Operator Root CA"
    assert root.key_algorithm == policy().key_algorithm.value
    root_cert = services.certificate_of(root.certificate_der)
    issuing_cert = services.certificate_of(issuing.certificate_der)
    issuing_cert.verify_directly_issued_by(root_cert)
    assert tsa.profile == Profile.TSA and tsa.issuer_id == root.pk and tsa.key_ref
    assert services.current_tsa_certificate().pk == tsa.pk
    # The issuing CA's own certificate is recorded as issued by the root.
    assert (
        IssuedCertificate.objects.get(
            profile=Profile.ISSUING_CA, fingerprint_sha256=issuing.fingerprint_sha256
        ).issuer_id
        == root.pk
    )
    for ca in (root, issuing):
        responder = services.current_ocsp_responder(ca)
        assert responder is not None and responder.key_ref
        services.certificate_of(responder.certificate_der).verify_directly_issued_by(
            services.certificate_of(ca.certificate_der)
        )
        crl = _latest_crl(ca)
        assert crl.number == 1 and crl.entries == 0
        ca.refresh_from_db()
        assert ca.crl_number == 1
    assert verify().ok
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions[:3] == ["ca.root.created", "ca.issuing.created", "ca.tsa.issued"]
    assert actions.count("ca.ocsp_responder.issued") == 2
    assert actions.count("ca.crl.published") == 2


def test_ensure_hierarchy_is_idempotent(hierarchy):
    keys_before = _key_files()
    events_before = AuditEvent.objects.count()
    certs_before = IssuedCertificate.objects.count()
    again = services.ensure_hierarchy("Another Name", actor="test")
    assert not again.created
    assert again.root.pk == hierarchy.root.pk
    assert again.root.fingerprint_sha256 == hierarchy.root.fingerprint_sha256
    assert again.issuing.fingerprint_sha256 == hierarchy.issuing.fingerprint_sha256
    assert again.tsa.fingerprint_sha256 == hierarchy.tsa.fingerprint_sha256
    assert _key_files() == keys_before  # no new key files, none rewritten
    assert AuditEvent.objects.count() == events_before
    assert IssuedCertificate.objects.count() == certs_before
    assert CertificateAuthority.objects.count() == 2


def test_key_refs_load_from_the_key_store(hierarchy):
    for ca in (hierarchy.root, hierarchy.issuing):
        key = services.keystore().get(ca.key_ref)
        cert = services.certificate_of(ca.certificate_der)
        assert key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) == cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


# --------------------------------------------------------------------------- issuance


def test_issue_signer_stores_the_row(hierarchy):
    key = generate_private_key(KeyAlgorithm.EC_P256)
    issued = services.issue_signer(SUBJECT, key.public_key(), actor="alice")
    issued.refresh_from_db()
    cert = services.certificate_of(issued.certificate_der)
    assert issued.issuer_id == hierarchy.issuing.pk
    assert issued.profile == Profile.SIGNER
    assert issued.status == IssuedCertificate.Status.VALID
    assert issued.serial_hex == format(cert.serial_number, "x")
    assert issued.common_name == "山田 太郎"
    assert issued.organization == "Example KK"
    assert issued.email == "taro.yamada@example.jp"
    assert issued.subject == cert.subject.rfc4514_string()
    assert issued.key_ref == ""  # Keiin never holds a signer's key here
    assert issued.not_before == cert.not_valid_before_utc
    assert issued.not_after == cert.not_valid_after_utc
    assert issued.not_after - issued.not_before == policy().signer_validity + dt.timedelta(
        minutes=1
    )
    assert issued.revoked_at is None and issued.revocation_reason == ""
    assert cert.public_key() == key.public_key()
    cert.verify_directly_issued_by(services.certificate_of(hierarchy.issuing.certificate_der))
    event = AuditEvent.objects.order_by("-seq").first()
    assert (event.action, event.actor, event.target) == (
        "ca.signer.issued",
        "alice",
        issued.serial_hex,
    )
    assert event.data["sha256"] == issued.fingerprint_sha256
    assert verify().ok


def test_issue_seal_and_validity(hierarchy):
    issued = _issue(profile=Profile.SEAL, validity=dt.timedelta(days=10))
    assert issued.profile == Profile.SEAL
    assert issued.not_after - issued.not_before == dt.timedelta(days=10, minutes=1)
    assert AuditEvent.objects.order_by("-seq").first().action == "ca.seal.issued"


@pytest.mark.parametrize(
    "profile", [Profile.TSA, Profile.OCSP, Profile.ROOT_CA, Profile.ISSUING_CA]
)
def test_issue_signer_refuses_other_profiles(hierarchy, profile):
    with pytest.raises(services.CaError):
        _issue(profile=profile)


def test_issue_without_hierarchy_is_refused(db):
    with pytest.raises(services.CaError, match="keiin init"):
        _issue()


# --------------------------------------------------------------------------- revocation


def test_revoke(hierarchy, django_capture_on_commit_callbacks):
    issued = _issue()
    generation = services.revocation_generation()
    before = generation.value()
    crl_before = _latest_crl(hierarchy.issuing)
    invalid = timezone.now().replace(microsecond=0) - dt.timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        revoked = services.revoke(
            issued, RevocationReason.KEY_COMPROMISE, actor="bob", invalidity_date=invalid
        )
    assert len(callbacks) == 1  # the generation bump (no key to destroy)
    assert generation.value() == before + 1
    revoked.refresh_from_db()
    assert revoked.status == IssuedCertificate.Status.REVOKED
    assert revoked.revocation_reason == "keyCompromise"
    assert revoked.invalidity_date == invalid
    assert abs(timezone.now() - revoked.revoked_at) < dt.timedelta(seconds=5)
    assert revoked.revoked_at.microsecond == 0

    crl_row = _latest_crl(hierarchy.issuing)
    assert crl_row.number == crl_before.number + 1
    assert crl_row.entries == 1
    crl = x509.load_der_x509_crl(bytes(crl_row.der))
    assert crl.is_signature_valid(
        services.certificate_of(hierarchy.issuing.certificate_der).public_key()
    )
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == crl_row.number
    entry = crl.get_revoked_certificate_by_serial_number(int(issued.serial_hex, 16))
    assert entry is not None
    assert entry.revocation_date_utc == revoked.revoked_at
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.key_compromise
    inv = entry.extensions.get_extension_for_class(x509.InvalidityDate).value
    assert inv.invalidity_date_utc == invalid
    # The root's CRL did not move.
    assert _latest_crl(hierarchy.root).number == 1

    events = list(AuditEvent.objects.filter(action="ca.certificate.revoked"))
    assert len(events) == 1
    assert events[0].target == issued.serial_hex and events[0].actor == "bob"
    assert events[0].data == {
        "issuer": hierarchy.issuing.slug,
        "profile": "signer",
        "reason": "keyCompromise",
        "invalidity_date": invalid.isoformat(),
    }
    assert verify().ok


def test_revocation_generation_moves_only_after_commit(
    hierarchy, django_capture_on_commit_callbacks
):
    issued = _issue()
    generation = services.revocation_generation()
    before = generation.value()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.revoke(issued, RevocationReason.SUPERSEDED, actor="test")
    assert generation.value() == before  # not yet committed
    for callback in callbacks:
        callback()
    assert generation.value() == before + 1


def test_crl_lists_every_revoked_certificate(hierarchy):
    a, b, c = _issue("A"), _issue("B"), _issue("C")
    services.revoke(a, RevocationReason.UNSPECIFIED, actor="test")
    services.revoke(c, RevocationReason.CESSATION_OF_OPERATION, actor="test")
    crl = x509.load_der_x509_crl(bytes(_latest_crl(hierarchy.issuing).der))
    assert {r.serial_number for r in crl} == {int(a.serial_hex, 16), int(c.serial_hex, 16)}
    assert crl.get_revoked_certificate_by_serial_number(int(b.serial_hex, 16)) is None
    unspecified = crl.get_revoked_certificate_by_serial_number(int(a.serial_hex, 16))
    assert len(unspecified.extensions) == 0


def test_revoking_twice_is_refused(hierarchy):
    issued = _issue()
    services.revoke(issued, RevocationReason.SUPERSEDED, actor="test")
    number = _latest_crl(hierarchy.issuing).number
    with pytest.raises(services.CaError, match="already revoked"):
        services.revoke(issued, RevocationReason.KEY_COMPROMISE, actor="test")
    issued.refresh_from_db()
    assert issued.revocation_reason == "superseded"
    assert _latest_crl(hierarchy.issuing).number == number
    assert AuditEvent.objects.filter(action="ca.certificate.revoked").count() == 1


def test_future_invalidity_date_is_refused(hierarchy):
    issued = _issue()
    events = AuditEvent.objects.count()
    future = timezone.now() + dt.timedelta(minutes=5)
    with pytest.raises(services.CaError, match="future"):
        services.revoke(
            issued, RevocationReason.KEY_COMPROMISE, actor="test", invalidity_date=future
        )
    issued.refresh_from_db()
    assert issued.status == IssuedCertificate.Status.VALID
    assert AuditEvent.objects.count() == events


def test_revoking_the_ocsp_responder_replaces_it(hierarchy, django_capture_on_commit_callbacks):
    ca = hierarchy.issuing
    old = services.current_ocsp_responder(ca)
    old_ref = old.key_ref
    assert services.private_key(old_ref) is not None  # cached in this process
    key_file = settings.HOME.keys / f"{old_ref}.key"
    assert key_file.exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke(old, RevocationReason.KEY_COMPROMISE, actor="test")
    assert not key_file.exists()
    with pytest.raises(KeyStoreError):
        services.private_key(old_ref)  # gone from the process cache too
    new = services.current_ocsp_responder(ca)
    assert new is not None and new.pk != old.pk and new.key_ref != old_ref
    assert new.status == IssuedCertificate.Status.VALID
    services.private_key(new.key_ref)
    signer, _ = services.ocsp_signer(ca.pk)
    assert signer.certificate == services.certificate_of(new.certificate_der)
    crl = x509.load_der_x509_crl(bytes(_latest_crl(ca).der))
    assert crl.get_revoked_certificate_by_serial_number(int(old.serial_hex, 16)) is not None
    # The other CA's responder is untouched.
    assert services.current_ocsp_responder(hierarchy.root).key_ref
    assert verify().ok


def test_revoking_the_tsa_destroys_its_key(hierarchy, django_capture_on_commit_callbacks):
    tsa = hierarchy.tsa
    key_file = settings.HOME.keys / f"{tsa.key_ref}.key"
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke(tsa, RevocationReason.KEY_COMPROMISE, actor="test")
    assert not key_file.exists()
    assert services.current_tsa_certificate() is None
    crl = x509.load_der_x509_crl(bytes(_latest_crl(hierarchy.root).der))
    assert crl.get_revoked_certificate_by_serial_number(int(tsa.serial_hex, 16)) is not None


def test_revoking_the_issuing_ca_deactivates_it(hierarchy):
    row = IssuedCertificate.objects.get(profile=Profile.ISSUING_CA)
    services.revoke(row, RevocationReason.CA_COMPROMISE, actor="test")
    assert not CertificateAuthority.objects.get(pk=hierarchy.issuing.pk).active
    with pytest.raises(services.CaError, match="no active issuing CA"):
        _issue()


# --------------------------------------------------------------------------- CRLs


def test_current_crl_is_reused_while_fresh(hierarchy):
    for ca in (hierarchy.root, hierarchy.issuing):
        latest = _latest_crl(ca)
        assert services.current_crl(ca).pk == latest.pk
        soon = (
            timezone.now() + policy().crl_refresh_age(ca.kind == "root") - dt.timedelta(minutes=1)
        )
        assert services.current_crl(ca, now=soon).pk == latest.pk
    assert Crl.objects.count() == 2


@pytest.mark.parametrize("which", ["root", "issuing"])
def test_current_crl_reissues_a_stale_one(hierarchy, which):
    ca = getattr(hierarchy, which)
    latest = _latest_crl(ca)
    later = timezone.now() + policy().crl_refresh_age(which == "root") + dt.timedelta(minutes=1)
    fresh = services.current_crl(ca, now=later)
    assert fresh.number == latest.number + 1
    assert fresh.this_update == later.replace(microsecond=0)
    assert fresh.next_update == fresh.this_update + policy().crl_validity(which == "root")
    crl = x509.load_der_x509_crl(bytes(fresh.der))
    assert crl.last_update_utc == fresh.this_update
    assert services.current_crl(ca, now=later).pk == fresh.pk  # and then reused
    assert AuditEvent.objects.filter(action="ca.crl.published").last().actor == "system"


def test_refresh_crls(hierarchy):
    assert services.refresh_crls() == []
    later = timezone.now() + dt.timedelta(days=2)  # past the issuing CA's refresh age only
    fresh = services.refresh_crls(now=later)
    assert [c.ca_id for c in fresh] == [hierarchy.issuing.pk]


def test_crl_numbers_are_monotonic(hierarchy):
    numbers = [services.publish_crl(hierarchy.issuing, actor="test").number for _ in range(3)]
    assert numbers == [2, 3, 4]
    hierarchy.issuing.refresh_from_db()
    assert hierarchy.issuing.crl_number == 4


# --------------------------------------------------------------------------- OCSP support


def test_certificate_statuses(hierarchy):
    good, bad = _issue("Good"), _issue("Bad")
    services.revoke(bad, RevocationReason.AFFILIATION_CHANGED, actor="test")
    g, b, unknown = int(good.serial_hex, 16), int(bad.serial_hex, 16), 0x1234567890
    statuses = services.certificate_statuses(hierarchy.issuing.pk, [g, b, unknown])
    assert statuses[g] is None
    assert statuses[unknown] is ocsp.UNKNOWN
    entry = statuses[b]
    assert isinstance(entry, RevokedEntry)
    bad.refresh_from_db()
    assert entry.serial == b
    assert entry.reason is RevocationReason.AFFILIATION_CHANGED
    assert entry.revoked_at == bad.revoked_at
    assert entry.invalidity_date is None
    # Serials are per CA: the same serial under the root is unknown.
    assert services.certificate_statuses(hierarchy.root.pk, [g]) == {g: ocsp.UNKNOWN}
    # The root's CA certificate itself is not an issued certificate; the TSA is.
    tsa = int(hierarchy.tsa.serial_hex, 16)
    assert services.certificate_statuses(hierarchy.root.pk, [tsa]) == {tsa: None}


def test_certificate_statuses_of_hostile_serials(hierarchy):
    """Serials come straight from OCSP requests: huge, zero or negative ones are unknown."""
    serials = [2**2000 + 1, 0, -1, -(2**70), 2**159]
    statuses = services.certificate_statuses(hierarchy.issuing.pk, serials)
    assert statuses == dict.fromkeys(serials, ocsp.UNKNOWN)


def test_ocsp_authorities_and_signer(hierarchy):
    authorities = services.ocsp_authorities()
    assert sorted(a.ca_id for a in authorities) == sorted([hierarchy.root.pk, hierarchy.issuing.pk])
    signer, not_after = services.ocsp_signer(hierarchy.issuing.pk)
    responder = services.current_ocsp_responder(hierarchy.issuing)
    assert signer.certificate == services.certificate_of(responder.certificate_der)
    assert not_after == responder.not_after


def test_renew_ocsp_responders(hierarchy):
    validity = policy().ocsp_responder_validity
    window = policy().ocsp_responder_renew_before
    current = {
        ca.pk: services.current_ocsp_responder(ca).pk for ca in (hierarchy.root, hierarchy.issuing)
    }
    assert services.renew_ocsp_responders(actor="test") == []
    not_yet = timezone.now() + validity - window - dt.timedelta(hours=1)
    assert services.renew_ocsp_responders(actor="test", now=not_yet) == []
    due = timezone.now() + validity - window + dt.timedelta(hours=1)
    renewed = services.renew_ocsp_responders(actor="maint", now=due)
    assert sorted(r.issuer_id for r in renewed) == sorted(current)
    for responder in renewed:
        assert responder.profile == Profile.OCSP and responder.key_ref
        assert responder.pk not in current.values()
        assert services.current_ocsp_responder(responder.issuer).pk == responder.pk
        assert services.private_key(responder.key_ref)
    # The old responders stay valid (not revoked) until they expire.
    assert IssuedCertificate.objects.filter(pk__in=current.values(), status="valid").count() == 2
    assert AuditEvent.objects.filter(action="ca.ocsp_responder.issued", actor="maint").count() == 2
    assert services.renew_ocsp_responders(actor="test") == []


def test_run_maintenance_bumps_the_generation_only_when_renewing(hierarchy):
    generation = services.revocation_generation()
    before = generation.value()
    assert services.run_maintenance() == {"crls": 0, "ocsp_responders": 0}
    assert generation.value() == before


# --------------------------------------------------------------------------- find_certificate


def test_find_certificate(hierarchy):
    issued = _issue()
    hex_ = issued.serial_hex
    padded = hex_.zfill(len(hex_) + len(hex_) % 2)
    colons = ":".join(padded[i : i + 2] for i in range(0, len(padded), 2)).upper()
    for text in (hex_, "0x" + hex_.upper(), colons, f"  {hex_}\n"):
        assert services.find_certificate(text).pk == issued.pk
    assert services.find_certificate(hex_, hierarchy.issuing.slug).pk == issued.pk


@pytest.mark.parametrize("text", ["", "zz", "0", "0x", "12-34", "f" * 100])
def test_find_certificate_rejects_bad_serials(hierarchy, text):
    with pytest.raises(services.CaError):
        services.find_certificate(text)


def test_find_certificate_unknown_serial(hierarchy):
    with pytest.raises(services.CaError, match="no certificate with serial abcdef"):
        services.find_certificate("ABCDEF")


def test_find_certificate_wrong_issuer(hierarchy):
    issued = _issue()
    with pytest.raises(services.CaError, match="no certificate"):
        services.find_certificate(issued.serial_hex, hierarchy.root.slug)


def test_find_certificate_ambiguous_serial(hierarchy):
    issued = _issue()
    IssuedCertificate.objects.create(
        issuer=hierarchy.root,
        serial_hex=issued.serial_hex,
        profile=Profile.SIGNER,
        subject="CN=Twin",
        common_name="Twin",
        certificate_der=b"\x30\x00",
        fingerprint_sha256="0" * 64,
        not_before=issued.not_before,
        not_after=issued.not_after,
    )
    with pytest.raises(services.CaError, match="several CAs"):
        services.find_certificate(issued.serial_hex)
    assert services.find_certificate(issued.serial_hex, hierarchy.issuing.slug).pk == issued.pk


def test_signer_subject_reaches_the_certificate(hierarchy):
    issued = _issue("佐藤 花子")
    cert = services.certificate_of(issued.certificate_der)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "佐藤 花子"
