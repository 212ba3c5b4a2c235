"""PAdES signing: the operator's certification signature and the signatories' approvals.

Every step is an incremental update of the previous bytes, never a rewrite:

* :func:`certify`: certification signature with DocMDP (default: form filling and further
  signatures allowed), with a signature timestamp (B-T); with a revocation source, also a DSS
  with revocation data fetched after that timestamp (B-LT). The empty signature fields of the
  signatories are placed in the same revision: after a certification, validators (pyHanko's
  default diff policy, Acrobat) only accept *filling* existing visible signature fields, not
  adding new ones.
* :func:`approve`: approval signature with a timestamp (B-T) → DSS with revocation data for
  every certificate of every signature and timestamp in the file, fetched now, i.e. after the
  timestamp (B-LT) → document timestamp over all of it (B-LTA).

The sync functions run the async ones with :func:`asyncio.run`; from async code call
:func:`async_certify` / :func:`async_approve`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from io import BytesIO

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import (
    MDPPerm,
    SigFieldSpec,
    SigSeedSubFilter,
    append_signature_field,
)
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, PdfTimeStamper, Signer
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko.sign.validation import DocumentSecurityStore

from keiin.pdf.errors import PdfInputError, PdfSigningError
from keiin.pdf.inputs import open_for_update
from keiin.pdf.revinfo import CollectedRevocationInfo, RevocationSource, collect, wait_until
from keiin.pdf.stamp import DEFAULT_BOX, VisibleStamp

#: Digest for signatures and timestamps.
MD_ALGORITHM = "sha256"


@dataclass(frozen=True)
class SignatureDetails:
    """Optional descriptive entries of the signature dictionary."""

    reason: str | None = None
    location: str | None = None
    contact_info: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class SignatureField:
    """An empty signature field to place for a later signatory: name, page (0-based, -1 for
    the last page) and rectangle (x1, y1, x2, y2) in PDF points."""

    name: str
    page: int = 0
    box: tuple[int, int, int, int] = DEFAULT_BOX

    def spec(self) -> SigFieldSpec:
        """The pyHanko field specification."""
        return SigFieldSpec(self.name, on_page=self.page, box=self.box)


def _meta(
    field_name: str, details: SignatureDetails, *, certify: bool, mdp: MDPPerm | None
) -> PdfSignatureMetadata:
    return PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=MD_ALGORITHM,
        subfilter=SigSeedSubFilter.PADES,
        certify=certify,
        docmdp_permissions=mdp if mdp is not None else MDPPerm.FILL_FORMS,
        reason=details.reason,
        location=details.location,
        contact_info=details.contact_info,
        name=details.name,
    )


async def _sign(
    writer: IncrementalPdfFileWriter,
    meta: PdfSignatureMetadata,
    signer: Signer,
    timestamper: TimeStamper,
    stamp: VisibleStamp | None,
    *,
    existing_field: bool,
) -> bytes:
    """Sign into the existing empty field ``meta.field_name``, or a new one (visible at the
    stamp's place if there is a stamp, else invisible)."""
    field_name = meta.field_name
    assert field_name is not None
    field_spec = None
    if not existing_field:
        if stamp is not None:
            field_spec = SigFieldSpec(field_name, on_page=stamp.page, box=stamp.box)
        else:
            field_spec = SigFieldSpec(field_name)
    pdf_signer = PdfSigner(
        meta,
        signer,
        timestamper=timestamper,
        stamp_style=stamp.style() if stamp is not None else None,
        new_field_spec=field_spec,
    )
    params = stamp.text_params() if stamp is not None else None
    try:
        out = await pdf_signer.async_sign_pdf(
            writer, existing_fields_only=existing_field, appearance_text_params=params
        )
    except TimestampRequestError as exc:
        raise PdfSigningError(f"the time-stamping authority failed: {exc}") from exc
    return out.getvalue()


def _certificates_in(signed_data: cms.SignedData) -> Iterator[asn1_x509.Certificate]:
    for choice in signed_data["certificates"] or ():
        if choice.name == "certificate":
            yield choice.chosen


def _timestamp_tokens(signed_data: cms.SignedData) -> Iterator[cms.SignedData]:
    for signer_info in signed_data["signer_infos"]:
        for attr in signer_info["unsigned_attrs"] or ():
            if attr["type"].native == "signature_time_stamp_token":
                for token in attr["values"]:
                    yield token["content"]


def _gen_time(token: cms.SignedData) -> dt.datetime:
    tst_info = token["encap_content_info"]["content"].parsed
    return tst_info["gen_time"].native


def certificates_of_document(pdf: bytes) -> tuple[list[asn1_x509.Certificate], dt.datetime]:
    """Every certificate in every signature, signature timestamp and document timestamp,
    and the newest genTime of those timestamps."""
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    found: dict[bytes, asn1_x509.Certificate] = {}
    newest = dt.datetime.min.replace(tzinfo=dt.UTC)
    for sig in reader.embedded_signatures:
        tokens = list(_timestamp_tokens(sig.signed_data))
        if sig.sig_object.get("/Type") == "/DocTimeStamp":
            tokens.append(sig.signed_data)
        for token in tokens:
            newest = max(newest, _gen_time(token))
        for signed_data in (sig.signed_data, *tokens):
            for cert in _certificates_in(signed_data):
                found.setdefault(cert.dump(), cert)
    return list(found.values()), newest


async def add_revocation_info(pdf: bytes, revinfo: RevocationSource) -> bytes:
    """Append a DSS update with revocation data, fetched now, for every certificate in every
    signature and timestamp of ``pdf`` and every CA above them (an incremental update).

    Waits up to one second first (see :func:`~keiin.pdf.revinfo.wait_until`); a TSA that
    issues whole-second genTimes makes that wait zero.
    """
    leaves, newest = certificates_of_document(pdf)
    # OCSP/CRL times have whole seconds: wait for the second after the newest timestamp, so
    # the data is both after it (ETSI freshness) and not in the future (immediate validation).
    await wait_until(newest)
    collected: CollectedRevocationInfo = await asyncio.to_thread(
        collect, revinfo, leaves, not_before=newest
    )
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        sig_contents=None,
        certs=collected.certificates,
        ocsps=collected.ocsp_responses,
        crls=collected.crls,
    )
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


async def add_document_timestamp(pdf: bytes, timestamper: TimeStamper, field_name: str) -> bytes:
    """Append a document timestamp (an incremental update) covering everything before it."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    try:
        out = await PdfTimeStamper(timestamper, field_name=field_name).async_timestamp_pdf(
            writer, MD_ALGORITHM
        )
    except TimestampRequestError as exc:
        raise PdfSigningError(f"the time-stamping authority failed: {exc}") from exc
    return out.getvalue()


async def async_certify(
    pdf: bytes,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    field_name: str,
    revinfo: RevocationSource | None = None,
    mdp: MDPPerm = MDPPerm.FILL_FORMS,
    stamp: VisibleStamp | None = None,
    details: SignatureDetails | None = None,
    signature_fields: Sequence[SignatureField] = (),
) -> bytes:
    """The operator's certification signature (B-T; B-LT if ``revinfo`` is given).

    ``pdf`` must not be signed yet (:class:`~keiin.pdf.errors.PdfInputError` otherwise).
    ``signature_fields`` are the empty fields the signatories will sign into, created in the
    same revision (see the module docstring).
    """
    opened = open_for_update(pdf, allow_signed=False, field_name=field_name)
    names = [f.name for f in signature_fields]
    if len(set(names)) != len(names) or field_name in names:
        raise ValueError("signature field names must be unique")
    for name in names:
        if name in opened.empty_fields:
            raise PdfInputError(f"the PDF already has a signature field named {name!r}")
    for placement in signature_fields:
        append_signature_field(opened.writer, placement.spec())
    meta = _meta(field_name, details or SignatureDetails(), certify=True, mdp=mdp)
    signed = await _sign(
        opened.writer,
        meta,
        signer,
        timestamper,
        stamp,
        existing_field=field_name in opened.empty_fields,
    )
    if revinfo is not None:
        signed = await add_revocation_info(signed, revinfo)
    return signed


async def async_approve(
    pdf: bytes,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    revinfo: RevocationSource,
    field_name: str,
    stamp: VisibleStamp | None,
    timestamp_field_name: str | None = None,
    details: SignatureDetails | None = None,
) -> bytes:
    """An approval signature, made B-LTA: signature with timestamp → DSS → document timestamp.

    ``pdf`` may carry earlier signatures (a certification allowing changes); their revocation
    data is refreshed in the same DSS update. The signature goes into the empty field
    ``field_name`` if there is one (its place wins over ``stamp.page``/``stamp.box``). A
    certified document must have that field already (placed by :func:`certify`);
    otherwise a new field is created.
    """
    opened = open_for_update(pdf, allow_signed=True, field_name=field_name)
    existing = field_name in opened.empty_fields
    if opened.certified and not existing:
        raise PdfInputError(
            f"the certified PDF has no empty signature field {field_name!r}; "
            "signature fields must be placed when the operator certifies"
        )
    meta = _meta(field_name, details or SignatureDetails(), certify=False, mdp=None)
    signed = await _sign(opened.writer, meta, signer, timestamper, stamp, existing_field=existing)
    with_dss = await add_revocation_info(signed, revinfo)
    return await add_document_timestamp(
        with_dss, timestamper, timestamp_field_name or f"{field_name}_DocTimeStamp"
    )


def certify(
    pdf: bytes,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    field_name: str,
    revinfo: RevocationSource | None = None,
    mdp: MDPPerm = MDPPerm.FILL_FORMS,
    stamp: VisibleStamp | None = None,
    details: SignatureDetails | None = None,
    signature_fields: Sequence[SignatureField] = (),
) -> bytes:
    """Synchronous :func:`async_certify`."""
    return asyncio.run(
        async_certify(
            pdf,
            signer,
            timestamper=timestamper,
            field_name=field_name,
            revinfo=revinfo,
            mdp=mdp,
            stamp=stamp,
            details=details,
            signature_fields=signature_fields,
        )
    )


def approve(
    pdf: bytes,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    revinfo: RevocationSource,
    field_name: str,
    stamp: VisibleStamp | None,
    timestamp_field_name: str | None = None,
    details: SignatureDetails | None = None,
) -> bytes:
    """Synchronous :func:`async_approve`."""
    return asyncio.run(
        async_approve(
            pdf,
            signer,
            timestamper=timestamper,
            revinfo=revinfo,
            field_name=field_name,
            stamp=stamp,
            timestamp_field_name=timestamp_field_name,
            details=details,
        )
    )
