"""An unlocked credential really signs a PDF with pyHanko, once, and the signature validates."""

from __future__ import annotations

import io

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from keiin.custody import (
    CertificateMismatchError,
    KeyAlreadyUsedError,
    OneShotSigner,
    create_credential,
    unlock,
)
from keiin.pki.keys import KeyAlgorithm
from tests.unit.custody.helpers import (
    CREDENTIAL_ID,
    FAST_KDF,
    PIN,
    TENANT,
    issue_signer_cert,
    make_ca,
    memory_pepper,
)

PEPPER = memory_pepper("signing tests")


def _asn1(cert) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _minimal_pdf() -> bytes:
    writer = PdfFileWriter()
    contents = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 720 Td ET"))
    writer.insert_page(PageObject(contents=contents, media_box=[0, 0, 595, 842]))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _sign(pdf: bytes, signer) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(field_name="Signatory1")
    return signers.sign_pdf(writer, meta, signer=signer).getvalue()


@pytest.fixture(scope="module")
def ca():
    return make_ca()


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.EC_P256, KeyAlgorithm.RSA_3072])
def test_unlocked_key_signs_a_pdf_that_validates(ca, algorithm):
    ca_key, ca_cert = ca
    record, public_key = create_credential(
        PIN,
        pepper=PEPPER,
        tenant=TENANT,
        credential_id=CREDENTIAL_ID,
        algorithm=algorithm,
        kdf=FAST_KDF,
    )
    signer_cert = issue_signer_cert(ca_key, ca_cert, public_key)
    registry = SimpleCertificateStore.from_certs([_asn1(ca_cert)])

    with unlock(record, PIN, pepper=PEPPER, tenant=TENANT, credential_id=CREDENTIAL_ID) as key:
        signer = key.signer(signer_cert, registry)
        assert isinstance(signer, OneShotSigner)
        signed = _sign(_minimal_pdf(), signer)
        assert signer.spent
    assert key.closed

    reader = PdfFileReader(io.BytesIO(signed))
    (embedded,) = reader.embedded_signatures
    context = ValidationContext(trust_roots=[_asn1(ca_cert)])
    status = validate_pdf_signature(embedded, signer_validation_context=context)
    assert status.intact and status.valid, status.pretty_print_details()
    assert status.trusted, status.pretty_print_details()
    assert status.signing_cert.dump() == _asn1(signer_cert).dump()

    # A byte changed inside the signed range breaks the integrity check.
    start = signed.index(b"BT /F1 24 Tf")
    forged = signed[:start] + b"BT /F1 25 Tf" + signed[start + 12 :]
    (embedded,) = PdfFileReader(io.BytesIO(forged)).embedded_signatures
    context = ValidationContext(trust_roots=[_asn1(ca_cert)])
    assert not validate_pdf_signature(embedded, signer_validation_context=context).intact


def test_the_signer_signs_once_then_forgets_the_key(ca):
    ca_key, ca_cert = ca
    record, public_key = create_credential(
        PIN, pepper=PEPPER, tenant=TENANT, credential_id=CREDENTIAL_ID, kdf=FAST_KDF
    )
    cert = issue_signer_cert(ca_key, ca_cert, public_key)
    key = unlock(record, PIN, pepper=PEPPER, tenant=TENANT, credential_id=CREDENTIAL_ID)
    signer = key.signer(cert)
    _sign(_minimal_pdf(), signer)
    assert signer.signing_key is None
    with pytest.raises(KeyAlreadyUsedError):
        _sign(_minimal_pdf(), signer)
    with pytest.raises(KeyAlreadyUsedError):
        key.signer(cert)
    key.close()
    assert key.closed


def test_closing_the_key_disarms_an_unused_signer(ca):
    ca_key, ca_cert = ca
    record, public_key = create_credential(
        PIN, pepper=PEPPER, tenant=TENANT, credential_id=CREDENTIAL_ID, kdf=FAST_KDF
    )
    cert = issue_signer_cert(ca_key, ca_cert, public_key)
    with unlock(record, PIN, pepper=PEPPER, tenant=TENANT, credential_id=CREDENTIAL_ID) as key:
        signer = key.signer(cert.public_bytes(serialization.Encoding.DER))
    with pytest.raises(KeyAlreadyUsedError):
        _sign(_minimal_pdf(), signer)
    with pytest.raises(KeyAlreadyUsedError):
        key.signer(cert)


def test_signer_refuses_a_certificate_for_another_key(ca):
    ca_key, ca_cert = ca
    record, _ = create_credential(
        PIN, pepper=PEPPER, tenant=TENANT, credential_id=CREDENTIAL_ID, kdf=FAST_KDF
    )
    _, other_public = create_credential(
        PIN, pepper=PEPPER, tenant=TENANT, credential_id="other", kdf=FAST_KDF
    )
    foreign = issue_signer_cert(ca_key, ca_cert, other_public)
    with unlock(record, PIN, pepper=PEPPER, tenant=TENANT, credential_id=CREDENTIAL_ID) as key:
        with pytest.raises(CertificateMismatchError):
            key.signer(foreign)
        with pytest.raises(CertificateMismatchError):
            key.signer(_asn1(ca_cert))
        assert not key.closed  # a refused certificate does not spend the key
