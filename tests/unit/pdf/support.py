"""Test doubles for :mod:`keiin.pdf`: a CA answering revocation queries, Keiin's TSA
in-process, one-shot signers, and tiny PDFs."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import random
import secrets
from collections.abc import Callable, Iterator, Sequence
from io import BytesIO
from pathlib import Path

from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko_certvalidator.registry import SimpleCertificateStore

from keiin.custody.unlocked import OneShotSigner, UnlockedKey
from keiin.pdf.revinfo import RevocationData
from keiin.pdf.timestamper import (
    CallableTimeStamper,
    factory_size_model,
    token_factory_transport,
)
from keiin.pki.keys import PrivateKey
from keiin.pki.ocsp import CertId, ResponderSigner
from keiin.pki.profiles import Issuer
from keiin.pki.revocation import build_crl
from keiin.tsa.template import TokenFactory, TsaProfile
from tests.unit.pki_factory import Pki

# The shared acceptance check lives beside the repository (../shared), as for the TSA tests.
PADES_CHECK = Path(__file__).resolve().parents[4] / "shared" / "checks" / "pades-check.py"


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(der(cert))


class TestCa:
    """Answers revocation queries like Keiin's CA: OCSP (delegated responder) for the
    issuing CA's certificates, plus CRLs of the issuing CA and the root."""

    __test__ = False

    def __init__(self, pki: Pki, *, now: Callable[[], dt.datetime] | None = None) -> None:
        self.pki = pki
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
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
        at = self.now().replace(microsecond=0)
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


def timestamper(
    pki: Pki,
    *,
    whole_seconds: bool = True,
    size_model: bool = True,
    now: Callable[[], dt.datetime] | None = None,
    calls: list[bytes] | None = None,
) -> CallableTimeStamper:
    """Keiin's TSA, in-process, as :func:`keiin.web.signing.keiin_timestamper` sets it up:
    whole-second genTimes and a size model (no token spent on size estimates). ``calls``
    collects every request that reached the TSA."""
    factory = TokenFactory(TsaProfile(certificate=pki.tsa, key=pki.tsa_key))
    serials = itertools.count(secrets.randbits(100) + (1 << 64))
    transport = token_factory_transport(
        factory, next_serial=lambda: next(serials), now=now, whole_seconds=whole_seconds
    )

    def counted(request_der: bytes) -> bytes:
        if calls is not None:
            calls.append(request_der)
        return transport(request_der)

    return CallableTimeStamper(
        counted, size_model=factory_size_model(factory) if size_model else None
    )


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


def write_big_pdf(path: Path, size: int, *, seed: int = 5) -> int:
    """Write a one-page PDF of about ``size`` bytes to ``path`` without holding it in memory:
    a page showing one grey image of random (incompressible) samples, written in 1 MiB
    chunks. Returns the file size."""
    chunk = 1 << 20
    width = 4096
    height = max(1, size // width)
    rng = random.Random(seed)
    offsets: list[int] = []
    with path.open("wb") as out:
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

        def start(number: int) -> None:
            offsets.append(out.tell())
            out.write(b"%d 0 obj\n" % number)

        start(1)
        out.write(b"<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
        start(2)
        out.write(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n")
        start(3)
        out.write(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>\nendobj\n"
        )
        content = b"q 495 0 0 700 50 100 cm /Im1 Do Q"
        start(4)
        out.write(b"<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (len(content), content))
        start(5)
        length = width * height
        out.write(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /Length %d >>\nstream\n" % (width, height, length)
        )
        left = length
        while left:
            step = min(chunk, left)
            out.write(rng.randbytes(step))
            left -= step
        out.write(b"\nendstream\nendobj\n")
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        for offset in offsets:
            out.write(b"%010d 00000 n \n" % offset)
        out.write(
            b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(offsets) + 1, xref)
        )
        return out.tell()


def peak_memory_of_signing(src: Path, out_dir: Path) -> dict[str, int]:
    """Certify ``src`` then approve it (file API, test PKI) and report this process's resident
    memory in KiB: ``baseline`` just before, ``peak`` the high-water mark during the signing.

    Meant for a fresh subprocess: the high-water mark is reset first through
    ``/proc/self/clear_refs`` (Linux); where that is refused, ``peak`` is the process's
    lifetime maximum (an over-estimate).
    """
    from keiin.pdf.signing import SignatureField, approve_file, certify_file
    from keiin.pki.keys import KeyAlgorithm
    from tests.unit.pki_factory import build_pki

    pki = build_pki(KeyAlgorithm.EC_P256)
    ca = TestCa(pki)
    tsa = timestamper(pki)
    certified, approved = out_dir / "certified.pdf", out_dir / "approved.pdf"

    def status(field: str) -> int:
        with Path("/proc/self/status").open() as lines:
            return next(int(line.split()[1]) for line in lines if line.startswith(field))

    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    baseline = status("VmRSS:")
    with one_shot_signer(pki.signer, pki.signer_key, pki) as signer:
        certify_file(
            src,
            certified,
            signer,
            timestamper=tsa,
            field_name="Seal",
            signature_fields=[SignatureField("Signatory")],
        )
    with one_shot_signer(pki.signer, pki.signer_key, pki) as signer:
        approve_file(
            certified,
            approved,
            signer,
            timestamper=tsa,
            revinfo=ca,
            field_name="Signatory",
            stamp=None,
        )
    return {"baseline": baseline, "peak": status("VmHWM:")}


__all__ = [
    "PADES_CHECK",
    "TestCa",
    "minimal_pdf",
    "one_shot_signer",
    "peak_memory_of_signing",
    "timestamper",
    "write_big_pdf",
]
