"""keiin.tsa.verify.verify_token: every check passes on a good token and each fails on the
tampering it exists to catch."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from keiin.pki import profiles
from keiin.pki.keys import KeyAlgorithm, generate_private_key, signature_hash
from keiin.pki.profiles import Issuer, SubjectInfo
from keiin.pki.revocation import RevocationReason, RevokedEntry, build_crl
from keiin.tsa.response import FailInfo, rejection_response
from keiin.tsa.template import TokenFactory, TsaProfile, token_of
from keiin.tsa.verify import CHECKS, TokenReport, verify_token
from tests.unit.pki_factory import URLS
from tests.unit.test_tsa_support import (
    ec_pki,
    ec_unit,
    grant,
    make_unit,
    old_root,
    request,
    rsa_unit,
    tst_info,
)

DATA = "契約書 2026-04-01 第7条".encode() * 64
DIGEST = hashlib.sha256(DATA).digest()
NOW = dt.datetime.now(dt.UTC)
OFFLINE = {"check_revocation": False, "fetch": False}


def verify(response: bytes, unit=None, **options) -> TokenReport:
    unit = unit or ec_unit()
    options = {"data": DATA, "trust_roots": [unit.root], **OFFLINE, **options}
    return verify_token(response, **options)


def failed(report: TokenReport) -> list[str]:
    return [c.name for c in report.failed]


def tsa_token(unit=None, **request_options) -> bytes:
    return grant(unit or ec_unit(), request(DIGEST, **request_options))


def flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


# -- good tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize("unit_factory", [ec_unit, rsa_unit])
@pytest.mark.parametrize("cert_req", [True, False])
def test_a_good_token_passes_every_check(unit_factory, cert_req):
    unit = unit_factory()
    response = tsa_token(unit, cert_req=cert_req)
    extra = [] if cert_req else [unit.cert]
    for blob in (response, token_of(response)):  # a TimeStampResp or a bare token
        report = verify(blob, unit, extra_certs=extra)
        assert [c.name for c in report.checks] == list(CHECKS)
        assert report.ok, report.failed
        info = tst_info(response)
        assert report.serial == info["serial_number"].native
        assert report.gen_time == info["gen_time"].native
        assert report.policy == info["policy"].dotted
        assert report.tsa_certificate == unit.cert
    assert verify(response, unit, data=None, digest=("SHA-256", DIGEST), extra_certs=extra).ok


def test_report_as_json():
    report = verify(tsa_token())
    data = json.loads(json.dumps(report.as_dict()))
    assert data["ok"] is True
    assert [c["name"] for c in data["checks"]] == list(CHECKS)
    assert data["serial"] == format(report.serial, "x")
    assert report.check("imprint").ok
    with pytest.raises(KeyError):
        report.check("nope")


def test_works_inside_a_running_event_loop():
    async def main() -> TokenReport:
        return verify(tsa_token())

    assert asyncio.run(main()).ok


# -- each check fails on its tampering -------------------------------------------------------


def test_parse_fails_on_garbage_and_rejections():
    for junk in (b"", b"\x30\x00", b"not a token", rejection_response(FailInfo.BAD_ALG, "no")):
        report = verify(junk)
        assert not report.ok
        assert report.checks[0].name == "parse" and not report.checks[0].ok
        assert all(not c.ok and c.detail.startswith("not checked") for c in report.checks[1:])
        assert (report.serial, report.gen_time, report.tsa_certificate) == (None, None, None)
    assert "rejection" in verify(rejection_response(FailInfo.BAD_ALG, "no")).checks[0].detail


def test_wrong_data_fails_imprint_only():
    response = tsa_token()
    assert failed(verify(response, data=DATA + b" ")) == ["imprint"]
    assert failed(verify(response, data=None, digest=("sha256", b"\x00" * 32))) == ["imprint"]
    assert failed(verify(response, data=None, digest=("sha512", DIGEST))) == ["imprint"]
    report = verify(response, data=None)
    assert failed(report) == ["imprint"]
    assert report.check("imprint").detail.startswith("not checked")


def test_flipped_signature_byte_fails_signature_only():
    response = tsa_token()
    tampered = flip(response, len(response) - 3)  # the signature is the last field
    assert failed(verify(tampered)) == ["signature"]


def test_tampered_tstinfo_fails_signature():
    response = tsa_token()
    serial = tst_info(response)["serial_number"].native
    serial_tlv = b"\x02" + bytes((len(serial.to_bytes(17, "big").lstrip(b"\x00")) + 1,))
    index = response.index(serial.to_bytes((serial.bit_length() + 8) // 8, "big"))
    assert serial_tlv[0] == response[index - 2]
    report = verify(flip(response, index + 3))
    assert "signature" in failed(report)
    assert "messageDigest" in report.check("signature").detail


def _reissue(cert: x509.Certificate, issuer: Issuer, **changes) -> x509.Certificate:
    """``cert`` again (same key, issuer, serial) with other validity or extensions."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())
        .serial_number(changes.get("serial", cert.serial_number))
        .not_valid_before(changes.get("not_before", cert.not_valid_before_utc))
        .not_valid_after(cert.not_valid_after_utc)
    )
    for ext in cert.extensions:
        if isinstance(ext.value, x509.ExtendedKeyUsage) and "eku" in changes:
            builder = builder.add_extension(*changes["eku"])
        else:
            builder = builder.add_extension(ext.value, ext.critical)
    return builder.sign(issuer.key, signature_hash(issuer.key))


def test_wrong_certificate_fails_signing_certificate():
    # Same key, issuer and serial but another certificate: the signature still verifies,
    # the ESSCertIDv2 hash tells them apart.
    unit = ec_unit()
    twin = _reissue(
        unit.cert,
        unit.pki.root,
        not_before=unit.cert.not_valid_before_utc - dt.timedelta(minutes=5),
    )
    response = tsa_token(cert_req=False)
    report = verify(response, extra_certs=[twin])
    assert failed(report) == ["signing-certificate"]
    assert report.tsa_certificate == twin
    # given both, the one the token names is chosen
    assert verify(response, extra_certs=[twin, unit.cert]).ok


def test_unrelated_certificate_means_nothing_can_be_checked():
    response = tsa_token(cert_req=False)
    report = verify(response, extra_certs=[rsa_unit().cert])
    assert failed(report) == [
        "signature",
        "signing-certificate",
        "tsa-certificate",
        "certificate-path",
    ]
    assert report.tsa_certificate is None
    assert "not checked" in report.check("signature").detail


def test_tsa_certificate_must_be_timestamping_only_and_critical():
    pki = ec_pki()
    cases = {
        "not critical": (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), False),
        "more usages": (
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING]
            ),
            True,
        ),
    }
    for eku in cases.values():
        cert = _reissue(pki.tsa, pki.root, serial=pki.tsa.serial_number + 1, eku=eku)
        factory = TokenFactory(TsaProfile(cert, pki.tsa_key))
        response = factory.grant(request(DIGEST), serial=9, gen_time=NOW)
        report = verify_token(response, data=DATA, trust_roots=[pki.root.certificate], **OFFLINE)
        assert failed(report) == ["tsa-certificate"], report.failed


def test_gen_time_outside_certificate_validity():
    unit = ec_unit()
    early = unit.cert.not_valid_before_utc - dt.timedelta(days=1)
    response = grant(unit, request(DIGEST), gen_time=early)
    report = verify(response)
    assert "tsa-certificate" in failed(report)
    assert "outside" in report.check("tsa-certificate").detail


def test_untrusted_root_fails_certificate_path():
    report = verify(tsa_token(), trust_roots=[rsa_unit().pki.issuing.certificate])
    assert failed(report) == ["certificate-path"]
    report = verify(tsa_token(), trust_roots=[])
    assert failed(report) == ["certificate-path"]


def test_revoked_token_serial_and_window():
    response = tsa_token()
    info = tst_info(response)
    serial, gen_time = info["serial_number"].native, info["gen_time"].native
    assert failed(verify(response, revoked_serials={serial})) == ["not-revoked-token"]
    assert verify(response, revoked_serials={serial + 1}).ok
    window = (gen_time - dt.timedelta(minutes=1), gen_time + dt.timedelta(minutes=1))
    report = verify(response, revoked_windows=[window])
    assert failed(report) == ["not-revoked-token"]
    assert "window" in report.check("not-revoked-token").detail
    naive = (window[0].replace(tzinfo=None), window[1].replace(tzinfo=None))  # read as UTC
    assert failed(verify(response, revoked_windows=[naive])) == ["not-revoked-token"]
    later = (gen_time + dt.timedelta(seconds=1), gen_time + dt.timedelta(hours=1))
    assert verify(response, revoked_windows=[later]).ok


# -- certificate revocation and validation time ------------------------------------------------


def _crl(issuer: Issuer, *entries: RevokedEntry) -> bytes:
    crl = build_crl(
        issuer,
        1,
        entries,
        this_update=NOW - dt.timedelta(minutes=5),
        next_update=NOW + dt.timedelta(days=1),
    )
    return crl.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def older_unit():
    """A TSA certificate issued two days ago, and a token made yesterday."""
    unit = make_unit(issuer=old_root(dt.timedelta(days=10)), now=NOW - dt.timedelta(days=2))
    response = grant(unit, request(DIGEST), gen_time=NOW - dt.timedelta(days=1))
    return unit, response


def _with_crl(unit, response, *entries):
    return verify(
        response, unit, check_revocation=True, fetch=False, crls=[_crl(unit.issuer, *entries)]
    )


def test_revocation_required_needs_data():
    report = verify(tsa_token(), check_revocation=True, fetch=False)
    assert failed(report) == ["certificate-path"]
    assert "revocation" in report.check("certificate-path").detail


def test_not_revoked_on_crl(older_unit):
    unit, response = older_unit
    report = _with_crl(unit, response)
    assert report.ok, report.failed
    assert "valid now" in report.check("certificate-path").detail


@pytest.mark.parametrize(
    ("reason", "when_days", "ok"),
    [
        (RevocationReason.KEY_COMPROMISE, -0.5, False),  # after genTime: every token void
        (RevocationReason.UNSPECIFIED, -0.5, False),  # might hide a compromise
        (RevocationReason.SUPERSEDED, -0.5, True),  # key rollover after genTime: still valid
        (RevocationReason.CESSATION_OF_OPERATION, -0.5, True),
        (RevocationReason.SUPERSEDED, -1.5, False),  # revoked before genTime
    ],
)
def test_certificate_revocation(older_unit, reason, when_days, ok):
    unit, response = older_unit
    entry = RevokedEntry(unit.cert.serial_number, NOW + dt.timedelta(days=when_days), reason)
    report = _with_crl(unit, response, entry)
    assert report.check("certificate-path").ok is ok, report.check("certificate-path").detail
    assert failed(report) == ([] if ok else ["certificate-path"])
    if ok:
        assert "valid at genTime" in report.check("certificate-path").detail


def test_expired_tsa_certificate_is_validated_at_gen_time():
    four_years_ago = NOW - dt.timedelta(days=4 * 365)
    root = old_root(NOW - four_years_ago)
    root_cert = root.certificate
    tsa_key = generate_private_key(KeyAlgorithm.EC_P256)
    issued = four_years_ago + dt.timedelta(days=10)
    cert = profiles.build_tsa(
        SubjectInfo("Old TSU", "Old KK"),
        tsa_key.public_key(),
        root,
        URLS,
        now=issued,
        validity=dt.timedelta(days=365),
    )
    assert cert.not_valid_after_utc < NOW
    factory = TokenFactory(TsaProfile(cert, tsa_key))
    gen_time = issued + dt.timedelta(days=100)
    response = factory.grant(request(DIGEST), serial=77, gen_time=gen_time)
    report = verify_token(response, data=DATA, trust_roots=[root_cert], **OFFLINE)
    assert report.ok, report.failed
    assert "valid at the end of its validity" in report.check("certificate-path").detail
    # the same token checked "as of" a moment inside the validity period fails nothing either
    inside = gen_time + dt.timedelta(days=1)
    assert verify_token(response, data=DATA, trust_roots=[root_cert], now=inside, **OFFLINE).ok


def test_expired_tsa_certificate_with_current_crl():
    root = old_root(dt.timedelta(days=3 * 365), name="Older Root")
    unit = make_unit(
        issuer=root, now=NOW - dt.timedelta(days=2 * 365), validity=dt.timedelta(days=365)
    )
    response = grant(unit, request(DIGEST), gen_time=NOW - dt.timedelta(days=500))
    assert _with_crl(unit, response).ok
    compromised = RevokedEntry(
        unit.cert.serial_number, NOW - dt.timedelta(days=400), RevocationReason.KEY_COMPROMISE
    )
    # validated at the end of its validity: a compromise revoked after genTime is still seen
    report = _with_crl(unit, response, compromised)
    assert failed(report) == ["certificate-path"]
    superseded = RevokedEntry(
        unit.cert.serial_number, NOW - dt.timedelta(days=400), RevocationReason.SUPERSEDED
    )
    report = _with_crl(unit, response, superseded)
    assert report.ok, report.failed
    assert "valid at genTime (revoked after genTime" in report.check("certificate-path").detail
