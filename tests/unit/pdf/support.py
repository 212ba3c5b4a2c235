"""Test doubles for :mod:`keiin.pdf`: a CA answering revocation queries, Keiin's TSA
in-process, one-shot signers, and tiny PDFs."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import secrets
from collections.abc import Iterator, Sequence
from io import BytesIO

from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko_certvalidator.registry import SimpleCertificateStore

from keiin.custody.unlocked import OneShotSigner, UnlockedKey
from keiin.pdf.revinfo import RevocationData
from keiin.pdf.timestamper import CallableTimeStamper, token_factory_transport
from keiin.pki.keys import PrivateKey
from keiin.pki.ocsp import CertId, ResponderSigner
from keiin.pki.profiles import Issuer
from keiin.pki.revocation import build_crl
from keiin.tsa.template import TokenFactory, TsaProfile
from tests.unit.pki_factory import Pki


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(der(cert))


class TestCa:
    """Answers revocation queries like Keiin's CA: OCSP (delegated responder) for the
    issuing CA's certificates, plus CRLs of the issuing CA and the root."""

    __test__ = False

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.responder = ResponderSigner(certificate=pki.ocsp, key=pki.ocsp_key)
        self.crl_numbers = itertools.count(1)
        self.calls: list[list[str]] = []

    def _crl(self, issuer: Issuer, this_update: dt.datetime) -> bytes:
        crl = build_crl(
            issuer,
            next(self.crl_numbers),
            [],
            this_update=this_update,
            next_update=this_update + dt.timedelta(days=7),
        )
        return crl.public_bytes(serialization.Encoding.DER)

    def _ocsp(self, cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate, at: dt.datetime):
        name_hash = hashlib.sha1(issuer.subject.dump()).digest()
        key_hash = issuer.public_key.sha1
        cid = asn1_ocsp.CertId(
            {
                "hash_algorithm": {"algorithm": "sha1"},
                "issuer_name_hash": name_hash,
                "issuer_key_hash": key_hash,
                "serial_number": cert.serial_number,
            }
        )
        cert_id = CertId("sha1", name_hash, key_hash, cert.serial_number, cid)
        return self.responder.sign([(cert_id, None)], produced_at=at, validity=dt.timedelta(1))

    def fetch(
        self, certificates: Sequence[asn1_x509.Certificate], *, not_before: dt.datetime
    ) -> RevocationData:
        at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        assert at >= not_before, "collect() must be called once the clock passed not_before"
        self.calls.append([c.subject.human_friendly for c in certificates])
        root, issuing = asn1(self.pki.root.certificate), asn1(self.pki.issuing.certificate)
        ocsps: list[bytes] = []
        crls: list[bytes] = []
        for cert in certificates:
            if cert.issuer == issuing.subject:
                ocsps.append(self._ocsp(cert, issuing, at))
                crls.append(self._crl(self.pki.issuing, at))
            elif cert.issuer == root.subject:
                crls.append(self._crl(self.pki.root, at))
            else:
                raise AssertionError(f"unknown issuer of {cert.subject.human_friendly}")
        return RevocationData(
            ocsp_responses=tuple(ocsps),
            crls=tuple(dict.fromkeys(crls)),
            certificates=tuple(
                der(c) for c in (self.pki.issuing.certificate, self.pki.root.certificate)
            ),
        )


def timestamper(pki: Pki) -> CallableTimeStamper:
    """Keiin's TSA, in-process."""
    factory = TokenFactory(TsaProfile(certificate=pki.tsa, key=pki.tsa_key))
    serials = itertools.count(secrets.randbits(100) + (1 << 64))
    return CallableTimeStamper(token_factory_transport(factory, next_serial=lambda: next(serials)))


@contextlib.contextmanager
def one_shot_signer(cert: x509.Certificate, key: PrivateKey, pki: Pki) -> Iterator[OneShotSigner]:
    """The signer :mod:`keiin.custody` hands out after a PIN unlock (built directly here),
    valid inside the ``with`` block like the real one."""
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    unlocked = UnlockedKey(credential_id="test", pkcs8_der=bytearray(pkcs8), public_key_der=spki)
    registry = SimpleCertificateStore.from_certs(
        [asn1(pki.issuing.certificate), asn1(pki.root.certificate)]
    )
    with unlocked:
        yield unlocked.signer(cert, registry)


def minimal_pdf(pages: int = 1, *, encrypt: bool = False) -> bytes:
    """A small A4 PDF with some text on each page."""
    writer = PdfFileWriter()
    font = writer.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Font"),
                generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
                generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
            }
        )
    )
    for n in range(pages):
        stream = generic.StreamObject(
            stream_data=f"BT /F1 18 Tf 72 760 Td (Contract page {n + 1}) Tj ET".encode()
        )
        resources = generic.DictionaryObject(
            {
                generic.NameObject("/Font"): generic.DictionaryObject(
                    {generic.NameObject("/F1"): font}
                )
            }
        )
        writer.insert_page(PageObject(writer.add_object(stream), [0, 0, 595, 842], resources))
    if encrypt:
        writer.encrypt("owner-secret", "user-secret")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


__all__ = ["TestCa", "minimal_pdf", "one_shot_signer", "timestamper"]
