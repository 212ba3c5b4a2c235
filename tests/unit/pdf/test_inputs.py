"""Bad input PDFs are refused with PdfInputError and a reason."""

from __future__ import annotations

import pytest
from pyhanko.sign.fields import MDPPerm

from keiin.pdf import PdfInputError, approve, certify
from tests.unit.pdf.support import TestCa, minimal_pdf, one_shot_signer, timestamper


def _certify(pdf, pki, seal, **kwargs):
    with one_shot_signer(seal.certificate, seal.key, pki) as signer:
        return certify(pdf, signer, timestamper=timestamper(pki), field_name="Seal", **kwargs)


def _approve(pdf, pki, field_name="Signatory"):
    with one_shot_signer(pki.signer, pki.signer_key, pki) as signer:
        return approve(
            pdf,
            signer,
            timestamper=timestamper(pki),
            revinfo=TestCa(pki),
            field_name=field_name,
            stamp=None,
        )


@pytest.mark.parametrize(
    "data", [b"", b"hello world", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, b"%PDF-1.7\ngarbage"]
)
def test_not_a_pdf(data, pki, seal):
    with pytest.raises(PdfInputError) as info:
        _certify(data, pki, seal)
    assert info.value.reason


def test_encrypted_pdf(pki, seal):
    with pytest.raises(PdfInputError, match="encrypted"):
        _certify(minimal_pdf(encrypt=True), pki, seal)
    with pytest.raises(PdfInputError, match="encrypted"):
        _approve(minimal_pdf(encrypt=True), pki)


def test_certification_must_come_first(contract, pki, seal):
    with pytest.raises(PdfInputError, match="already signed"):
        _certify(contract.certified, pki, seal)


def test_no_changes_certification_cannot_be_approved(pki, seal):
    locked = _certify(minimal_pdf(), pki, seal, mdp=MDPPerm.NO_CHANGES)
    with pytest.raises(PdfInputError, match="no changes"):
        _approve(locked, pki)


def test_a_signed_field_cannot_be_signed_again(contract, pki):
    with pytest.raises(PdfInputError, match="already signed"):
        _approve(contract.certified, pki, field_name="OperatorSeal")


def test_approving_an_unsigned_pdf_works(pki):
    signed = _approve(minimal_pdf(), pki)
    assert signed.startswith(minimal_pdf()[:8])


def test_certified_pdf_needs_a_placed_field(contract, pki):
    with pytest.raises(PdfInputError, match="no empty signature field"):
        _approve(contract.certified, pki, field_name="Unplanned")


def test_placed_field_names_must_be_new(pki, seal):
    from keiin.pdf import SignatureField

    with pytest.raises(ValueError, match="unique"):
        _certify(minimal_pdf(), pki, seal, signature_fields=[SignatureField("Seal")])
