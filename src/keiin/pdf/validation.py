"""Validating every signature and document timestamp of a PDF, offline, against given roots.

One implementation for the operator's automatic check after each signature ("the operator
confirms the signature was validly made"), a ``keiin verify`` command and a web page.

Nothing is fetched: revocation data and certificates come from the file only (its CMS
signatures and its DSS), and revocation data is *required* for every certificate on every
path, as in the shared field notes. Each signature gets two pyHanko validations:

* pyHanko's **status** (:func:`~pyhanko.sign.validation.async_validate_pdf_signature`):
  ``intact`` (the signed bytes are unchanged), ``valid`` (the signature value matches),
  ``trusted`` (the certificate chains to a trust root; revocation not considered), DocMDP
  and the modifications made after signing;
* the **AdES** validation (ETSI EN 319 102-1: pyHanko's ``ades_lta_validation`` for
  signatures, ``ades_timestamp_validation`` with the DSS's data for document timestamps)
  under the strict offline policy (:func:`strict_offline_spec`): the indication
  ``TOTAL-PASSED``, ``INDETERMINATE`` or ``FAILED`` and its sub-indication.

Modifications that the signature (or the certification's DocMDP level) does not allow, or a
signature that does not cover its whole revision, turn a ``TOTAL-PASSED`` into ``FAILED``
(``FORMAT_FAILURE``): the AdES procedure does not look at PDF incremental updates.

A signature that is only B-T (no revocation data in the file, e.g. a document the operator
has certified but nobody has approved yet) cannot be checked offline: pyHanko reports
``INDETERMINATE`` / ``CERTIFICATE_CHAIN_GENERAL_FAILURE`` (no revocation information for a
certificate on the path), and ``revocation_ok`` is false. After
:func:`keiin.pdf.signing.approve`, every signature of the file is B-LTA and ``TOTAL-PASSED``.

Offline validity ends with the nextUpdate of the revocation data that covers the newest
document timestamp; later, the result is ``INDETERMINATE`` until the archive is renewed
(fresh revocation data and a new document timestamp). Each document timestamp is
validated at the validation time only (no past validation through later timestamps), so in
a renewed archive an older document timestamp whose TSA certificate has expired would show
``INDETERMINATE``; archive renewal is not built yet.

Input that is not a readable PDF raises :class:`~keiin.pdf.errors.PdfInputError`; anything
wrong inside a signature (bad CMS, changed bytes, unknown signer) is a ``FAILED`` or
``INDETERMINATE`` result with a reason, never an exception.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from io import BytesIO
from typing import Any, BinaryIO, Literal

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from asn1crypto.crl import CertificateList
from asn1crypto.ocsp import OCSPResponse
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESStatus, AdESSubIndic
from pyhanko.sign.fields import SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    EmbeddedPdfSignature,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.ades import (
    ades_lta_validation,
    ades_timestamp_validation,
    ades_with_time_validation,
)
from pyhanko.sign.validation.errors import NoDSSFoundError, SignatureValidationError
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    ModificationLevel,
    PdfSignatureStatus,
    SignatureCoverageLevel,
    SignatureStatus,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer

from keiin.pdf.errors import PdfInputError

__all__ = [
    "DocumentValidation",
    "Indication",
    "Kind",
    "Level",
    "SignatureValidation",
    "async_validate_document",
    "strict_offline_spec",
    "validate_document",
]

Kind = Literal["signature", "certification", "doc_timestamp"]
Indication = Literal["TOTAL-PASSED", "INDETERMINATE", "FAILED"]
Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]

#: The PDF header must start within this many bytes (as for signing).
HEADER_WINDOW = 1024

_INDICATIONS: dict[AdESStatus, Indication] = {
    AdESStatus.PASSED: "TOTAL-PASSED",
    AdESStatus.INDETERMINATE: "INDETERMINATE",
    AdESStatus.FAILED: "FAILED",
}

#: Modifications after signing that PAdES signatures accept: none, DSS and document
#: timestamps (LTA updates), filling in form fields and signatures.
_ACCEPTED_MODIFICATIONS = (
    ModificationLevel.NONE,
    ModificationLevel.LTA_UPDATES,
    ModificationLevel.FORM_FILLING,
)


#: The signature types pyHanko validates (others it would silently skip: here they fail).
_SUBFILTERS = frozenset(subfilter.value for subfilter in SigSeedSubFilter)

#: How pyHanko's AdES messages begin when they add nothing to the sub-indication.
_PYHANKO_WRAPPER = (
    "Validation of signature at current time failed with indication",
    "Past signature validation did not manage to improve",
)


@dataclass(frozen=True)
class SignatureValidation:
    """The validation of one signature or document timestamp.

    ``signing_time`` is the time the signer claims (signed attribute); ``timestamp_time``
    the genTime of the signature's timestamp (of the token itself for a document
    timestamp). ``trusted`` means the certificate chains to a trust root (revocation not
    considered); ``revocation_ok`` that the strict path validation, revocation data from
    the file included, succeeded. ``level`` is the PAdES level the file's structure
    gives the signature (``None`` for document timestamps); ``indication`` and
    ``sub_indication`` are the AdES result (ETSI EN 319 102-1 names); ``reason`` says why
    in words.
    """

    field_name: str
    kind: Kind
    #: The revision the signature covers (0-based), if it could be read.
    revision: int | None
    signer_subject: str | None
    signer_serial_hex: str | None
    signing_time: dt.datetime | None
    timestamp_time: dt.datetime | None
    intact: bool
    valid: bool
    trusted: bool
    revocation_ok: bool
    docmdp_ok: bool | None
    #: ``none``, ``lta_updates``, ``form_filling``, ``annotations`` or ``other``.
    modification_level: str | None
    #: ``entire_file``, ``entire_revision``, ``contiguous_block_from_start`` or ``unclear``.
    coverage: str | None
    level: Level | None
    indication: Indication
    sub_indication: str | None
    reason: str

    @property
    def passed(self) -> bool:
        """Whether the indication is ``TOTAL-PASSED``."""
        return self.indication == "TOTAL-PASSED"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (times as ISO 8601 strings)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, dt.datetime):
                value = value.isoformat()
            elif value is not None and not isinstance(value, str | int | bool):
                value = str(value)  # e.g. pyHanko's name objects: never the objects themselves
            out[item.name] = value
        out["passed"] = self.passed
        return out


@dataclass(frozen=True)
class DocumentValidation:
    """Every signature and document timestamp of a PDF, in signing order."""

    signatures: tuple[SignatureValidation, ...]
    validation_time: dt.datetime
    revisions: int

    @property
    def passed(self) -> bool:
        """At least one signature, and every signature and document timestamp
        ``TOTAL-PASSED``."""
        return any(s.kind != "doc_timestamp" for s in self.signatures) and all(
            s.passed for s in self.signatures
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "passed": self.passed,
            "validation_time": self.validation_time.isoformat(),
            "revisions": self.revisions,
            "signatures": [s.to_dict() for s in self.signatures],
        }


# --------------------------------------------------------------------------------------
# Policy


def strict_offline_spec(
    trust_roots: Sequence[asn1_x509.Certificate],
) -> PdfSignatureValidationSpec:
    """The validation policy: the given roots only, revocation data required for every
    certificate, local data only (nothing fetched, neither revocation data nor
    certificates)."""
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=list(trust_roots)),
                revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
                certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
            ),
        )
    )


def _status_context(
    trust_roots: Sequence[asn1_x509.Certificate], at: dt.datetime | None
) -> ValidationContext:
    """For pyHanko's status: chain to the roots, nothing fetched, revocation soft-fail."""
    return ValidationContext(trust_roots=list(trust_roots), allow_fetching=False, moment=at)


def _timing(at: dt.datetime | None) -> ValidationTimingInfo:
    if at is None:
        return ValidationTimingInfo.now()
    return ValidationTimingInfo(
        validation_time=at, best_signature_time=at, point_in_time_validation=True
    )


# --------------------------------------------------------------------------------------
# Reading the file


def _stream(pdf: bytes | bytearray | memoryview | BinaryIO) -> BinaryIO:
    """``pdf`` as a seekable stream, never copying a file into memory (pyHanko reads the
    objects it needs and digests the signed byte ranges in chunks)."""
    if isinstance(pdf, bytes | bytearray | memoryview):
        return BytesIO(pdf)
    if not hasattr(pdf, "read"):
        raise TypeError("pdf must be bytes or a binary file object")
    if hasattr(pdf, "seek") and getattr(pdf, "seekable", lambda: True)():
        return pdf
    data = pdf.read()  # a pipe: it has to be buffered
    if not isinstance(data, bytes):
        raise TypeError("pdf must be opened in binary mode")
    return BytesIO(data)


def _open(stream: BinaryIO) -> PdfFileReader:
    start = stream.tell()
    head = stream.read(HEADER_WINDOW)
    if not isinstance(head, bytes):
        raise TypeError("pdf must be opened in binary mode")
    if b"%PDF-" not in head:
        raise PdfInputError("not a PDF file (no %PDF- header)")
    stream.seek(start)
    try:
        reader = PdfFileReader(stream, strict=False)
        if reader.encrypted:
            raise PdfInputError("the PDF is encrypted; signatures cannot be checked")
        _ = reader.root["/Pages"]  # a PDF with no page tree is not a document
    except PdfInputError:
        raise
    except Exception as exc:  # any parser failure means "not readable"
        raise PdfInputError(f"the PDF cannot be read: {exc}") from exc
    return reader


@dataclass(frozen=True)
class _Field:
    """A filled signature field: its signature, or why it could not be read."""

    name: str
    signature: EmbeddedPdfSignature | None
    problem: str | None


def _signature_fields(reader: PdfFileReader) -> list[_Field]:
    """Every filled signature field, readable or not, in signing order."""
    try:
        filled = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:
        raise PdfInputError(f"the signature fields cannot be read: {exc}") from exc
    fields: list[_Field] = []
    for name, _value, field_ref in filled:
        try:
            signature = EmbeddedPdfSignature(reader, field_ref, name)
            subfilter = signature.sig_object.get("/SubFilter")
            if subfilter not in _SUBFILTERS:
                raise ValueError(f"unsupported signature type (SubFilter {subfilter})")
            fields.append(_Field(name, signature, None))
        except Exception as exc:  # reported as a FAILED signature
            fields.append(_Field(name, None, f"the signature cannot be read: {exc}"))
    readable = [f for f in fields if f.signature is not None]
    readable.sort(key=lambda f: f.signature.signed_revision if f.signature else 0)
    return readable + [f for f in fields if f.signature is None]


def _dss_knowledge(reader: PdfFileReader) -> LocalKnowledge:
    """The DSS's OCSP responses, CRLs and certificates, for the AdES validation."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return LocalKnowledge()
    ocsps = [
        container
        for ref in dss.ocsps
        for container in OCSPContainer.load_multi(
            OCSPResponse.load(ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE))
        )
    ]
    crls = [
        CRLContainer(CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL)))
        for ref in dss.crls
    ]
    return LocalKnowledge(known_ocsps=ocsps, known_crls=crls, known_certs=list(dss.load_certs()))


def _revinfo_digests(reader: PdfFileReader, revision: int) -> frozenset[bytes]:
    """Digests of the OCSP responses and CRLs in the DSS as of ``revision``."""
    try:
        dss = DocumentSecurityStore.read_dss(HistoricalResolver(reader, revision=revision))
    except NoDSSFoundError:
        return frozenset()
    return frozenset(
        hashlib.sha256(ref.get_object().data).digest() for ref in (*dss.ocsps, *dss.crls)
    )


def _timestamp_tokens(signature: EmbeddedPdfSignature) -> list[cms.SignedData]:
    tokens = []
    for attr in signature.signer_info["unsigned_attrs"] or ():
        if attr["type"].native == "signature_time_stamp_token":
            tokens.extend(value["content"] for value in attr["values"])
    return tokens


def _gen_time(token: cms.SignedData) -> dt.datetime:
    return token["encap_content_info"]["content"].parsed["gen_time"].native


def _level(
    reader: PdfFileReader,
    signature: EmbeddedPdfSignature,
    doc_timestamps: Iterable[EmbeddedPdfSignature],
) -> Level:
    """B-T with a signature timestamp; B-LT if a later revision added revocation data to the
    DSS; B-LTA if a document timestamp covers that revision."""
    if not _timestamp_tokens(signature):
        return "B-B"
    signed = signature.signed_revision
    before = _revinfo_digests(reader, signed)
    lt_revision = next(
        (
            revision
            for revision in range(signed + 1, reader.xrefs.total_revisions)
            if _revinfo_digests(reader, revision) - before
        ),
        None,
    )
    if lt_revision is None:
        return "B-T"
    if any(ts.signed_revision >= lt_revision for ts in doc_timestamps):
        return "B-LTA"
    return "B-LT"


# --------------------------------------------------------------------------------------
# Validating


def _kind(signature: EmbeddedPdfSignature) -> Kind:
    if signature.sig_object_type == "/DocTimeStamp":
        return "doc_timestamp"
    return "certification" if signature.docmdp_level is not None else "signature"


def _signer(signature: EmbeddedPdfSignature) -> tuple[str | None, str | None]:
    try:
        cert = signature.signer_cert
    except Exception:  # no signer certificate in the CMS
        return None, None
    return cert.subject.human_friendly, format(cert.serial_number, "x")


def _sub_indication_of(exc: BaseException) -> AdESSubIndic:
    if isinstance(exc, SignatureValidationError) and exc.ades_subindication is not None:
        return exc.ades_subindication
    return AdESIndeterminate.GENERIC


def _unreadable(name: str, problem: str) -> SignatureValidation:
    return SignatureValidation(
        field_name=name,
        kind="signature",
        revision=None,
        signer_subject=None,
        signer_serial_hex=None,
        signing_time=None,
        timestamp_time=None,
        intact=False,
        valid=False,
        trusted=False,
        revocation_ok=False,
        docmdp_ok=None,
        modification_level=None,
        coverage=None,
        level=None,
        indication="FAILED",
        sub_indication=AdESFailure.FORMAT_FAILURE.standard_name,
        reason=problem,
    )


def _modification_problem(status: PdfSignatureStatus | DocumentTimestampStatus) -> str | None:
    if status.coverage is not None and status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        return "the signature does not cover its whole revision of the document"
    if getattr(status, "docmdp_ok", None) is False:
        return "the document was changed after signing beyond what the certification allows"
    level = status.modification_level
    if level is not None and level not in _ACCEPTED_MODIFICATIONS:
        return f"the document was changed after signing ({level.name.lower()} modifications)"
    return None


@dataclass
class _Outcome:
    """What the two validations of one signature found, before it is put into words."""

    status: SignatureStatus | None = None
    strict_status: SignatureStatus | None = None
    sub_indication: AdESSubIndic = AdESIndeterminate.GENERIC
    #: The first problem, in words, when it is more precise than the status flags.
    problem: str | None = None
    #: pyHanko's message or the exception text, if useful.
    detail: str | None = None

    def fail(self, sub_indication: AdESSubIndic, problem: str, detail: str | None) -> None:
        self.sub_indication, self.problem, self.detail = sub_indication, problem, detail

    def check_modifications(self) -> None:
        """A PASSED signature fails if the document was changed in ways it does not allow."""
        status = self.status
        if self.sub_indication.status != AdESStatus.PASSED or not isinstance(
            status, PdfSignatureStatus | DocumentTimestampStatus
        ):
            return
        problem = _modification_problem(status)
        if problem is not None:
            self.fail(AdESFailure.FORMAT_FAILURE, problem, None)

    @property
    def passed(self) -> bool:
        return self.sub_indication.status == AdESStatus.PASSED

    @property
    def revocation_ok(self) -> bool:
        """The strict path validation (revocation data required) succeeded."""
        status = self.strict_status
        return (
            status is not None
            and status.validation_path is not None
            and status.trust_problem_indic is None
            and not status.revoked
        )

    def reason(self, level: Level | None) -> str:
        """Why, in words: the first problem found, then pyHanko's message if any."""
        status = self.status
        if self.passed:
            what = "document timestamp" if level is None else f"signature ({level})"
            return (
                f"the {what} is intact and valid, its certificate chains to a trusted root, "
                "and the file proves it was not revoked"
            )
        if self.problem is not None:
            why = self.problem
        elif status is not None and not status.intact:
            why = "the signed bytes were changed after signing"
        elif status is not None and not status.valid:
            why = "the signature value does not match the signed data and certificate"
        elif status is not None and status.revoked:
            why = "a certificate on the signer's path is revoked"
        elif status is not None and not status.trusted:
            why = "the signer's certificate does not chain to a trusted root"
        elif level in ("B-B", "B-T"):
            why = (
                "the file holds no revocation data for the signer's certificate chain "
                f"(the signature is {level}), so it cannot be checked offline"
            )
        else:
            why = "the revocation data in the file does not prove the certificates were not revoked"
        reason = f"{why} ({self.sub_indication.standard_name})"
        return f"{reason}: {self.detail}" if self.detail else reason


def _result(
    signature: EmbeddedPdfSignature,
    outcome: _Outcome,
    *,
    kind: Kind,
    level: Level | None,
    signing_time: dt.datetime | None,
    timestamp_time: dt.datetime | None,
) -> SignatureValidation:
    status = outcome.status
    subject, serial = _signer(signature)
    return SignatureValidation(
        field_name=signature.field_name,
        kind=kind,
        revision=signature.signed_revision,
        signer_subject=subject,
        signer_serial_hex=serial,
        signing_time=signing_time,
        timestamp_time=timestamp_time,
        intact=bool(status and status.intact),
        valid=bool(status and status.valid),
        trusted=bool(status and status.trusted),
        revocation_ok=outcome.revocation_ok,
        docmdp_ok=status.docmdp_ok if isinstance(status, PdfSignatureStatus) else None,
        modification_level=_name(getattr(status, "modification_level", None)),
        coverage=_name(getattr(status, "coverage", None)),
        level=level,
        indication=_INDICATIONS[outcome.sub_indication.status],
        sub_indication=None if outcome.passed else outcome.sub_indication.standard_name,
        reason=outcome.reason(level),
    )


async def _validate_signature(
    reader: PdfFileReader,
    signature: EmbeddedPdfSignature,
    doc_timestamps: Sequence[EmbeddedPdfSignature],
    trust_roots: Sequence[asn1_x509.Certificate],
    timing: ValidationTimingInfo,
    at: dt.datetime | None,
) -> SignatureValidation:
    """A signature or certification: pyHanko's status, then AdES LTA validation."""
    outcome = _Outcome()
    status_error: Exception | None = None
    try:
        outcome.status = await async_validate_pdf_signature(
            signature, _status_context(trust_roots, at)
        )
    except Exception as exc:  # a malformed signature
        status_error = exc
    level = _safe(lambda: _level(reader, signature, doc_timestamps), "B-B")
    try:
        if level == "B-LTA":
            result = await ades_lta_validation(
                signature, strict_offline_spec(trust_roots), timing_info=timing
            )
        else:
            # No document timestamp covers it: there is no proof of existence for a past
            # validation, so it is the validation of a signature with time (EN 319 102-1
            # §5.5) at the validation time, with the DSS's revocation data (B-LT) if any.
            spec = strict_offline_spec(trust_roots).signature_validation_spec
            result = await ades_with_time_validation(
                signature.signed_data,
                replace(spec, local_knowledge=_dss_knowledge(reader)),
                timing_info=timing,
                raw_digest=signature.compute_digest(),
                extra_status_kwargs=signature.summarise_integrity_info(),
                status_cls=PdfSignatureStatus,
            )
        outcome.sub_indication, outcome.strict_status = result.ades_subindic, result.api_status
        outcome.detail = None if outcome.passed else _useful(result.failure_msg)
    except Exception as exc:
        outcome.fail(_sub_indication_of(exc), "the validation could not be completed", str(exc))
    if status_error is not None:
        outcome.fail(
            AdESFailure.FORMAT_FAILURE, "the signature cannot be checked", str(status_error)
        )
    outcome.check_modifications()
    tokens = _safe(lambda: _timestamp_tokens(signature), [])
    return _result(
        signature,
        outcome,
        kind=_safe(lambda: _kind(signature), "signature"),
        level=level,
        signing_time=_safe(lambda: signature.self_reported_timestamp, None),
        timestamp_time=_safe(lambda: min(_gen_time(t) for t in tokens), None),
    )


async def _validate_timestamp(
    reader: PdfFileReader,
    signature: EmbeddedPdfSignature,
    trust_roots: Sequence[asn1_x509.Certificate],
    timing: ValidationTimingInfo,
    at: dt.datetime | None,
) -> SignatureValidation:
    """A document timestamp: pyHanko's status, then AdES timestamp validation with the
    DSS's revocation data."""
    outcome = _Outcome()
    try:
        outcome.status = await async_validate_pdf_timestamp(
            signature, _status_context(trust_roots, at)
        )
        spec = strict_offline_spec(trust_roots).signature_validation_spec
        result = await ades_timestamp_validation(
            signature.signed_data,
            replace(spec, local_knowledge=_dss_knowledge(reader)),
            signature.compute_digest,
            timing_info=timing,
            status_cls=DocumentTimestampStatus,
            extra_status_kwargs=signature.summarise_integrity_info(),
        )
        outcome.sub_indication, outcome.strict_status = result.ades_subindic, result.api_status
        outcome.detail = None if outcome.passed else _useful(result.failure_msg)
    except Exception as exc:
        if outcome.status is None:
            outcome.fail(AdESFailure.FORMAT_FAILURE, "the timestamp cannot be checked", str(exc))
        else:
            outcome.fail(_sub_indication_of(exc), "the validation could not be completed", str(exc))
    outcome.check_modifications()
    gen_time = _safe(lambda: _gen_time(signature.signed_data), None)
    return _result(
        signature,
        outcome,
        kind="doc_timestamp",
        level=None,
        signing_time=gen_time,
        timestamp_time=gen_time,
    )


def _useful(message: str | None) -> str | None:
    """pyHanko's message, unless it only repeats the sub-indication."""
    if message is None or message.startswith(_PYHANKO_WRAPPER):
        return None
    return message


def _name(value: ModificationLevel | SignatureCoverageLevel | None) -> str | None:
    return value.name.lower() if value is not None else None


def _safe(get: Any, default: Any) -> Any:
    try:
        return get()
    except Exception:  # optional, descriptive fields only
        return default


def _as_asn1(cert: object) -> asn1_x509.Certificate:
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    public_bytes = getattr(cert, "public_bytes", None)  # a ``cryptography`` certificate
    if public_bytes is not None:
        from cryptography.hazmat.primitives.serialization import Encoding

        return asn1_x509.Certificate.load(public_bytes(Encoding.DER))
    raise TypeError("trust roots must be asn1crypto (or cryptography) X.509 certificates")


async def async_validate_document(
    pdf: bytes | bytearray | memoryview | BinaryIO,
    trust_roots: Sequence[asn1_x509.Certificate],
    *,
    at: dt.datetime | None = None,
) -> DocumentValidation:
    """Validate every signature and document timestamp of ``pdf`` offline.

    ``trust_roots`` are the only trust anchors (e.g. Keiin's root CA); with none, only
    integrity is checked (``intact``, ``valid``) and nothing passes. ``at`` is the
    validation time (timezone-aware; default now). Raises
    :class:`~keiin.pdf.errors.PdfInputError` if ``pdf`` is not a readable PDF; a PDF without
    signatures gives an empty, not passed, result.
    """
    if at is not None and at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    roots = [_as_asn1(c) for c in trust_roots]  # never None: no operating system trust list
    reader = _open(_stream(pdf))
    fields = _signature_fields(reader)
    timing = _timing(at)
    doc_timestamps = [
        f.signature
        for f in fields
        if f.signature is not None and f.signature.sig_object_type == "/DocTimeStamp"
    ]
    results: list[SignatureValidation] = []
    for entry in fields:
        signature = entry.signature
        if signature is None:
            results.append(_unreadable(entry.name, entry.problem or "unreadable signature"))
        elif signature.sig_object_type == "/DocTimeStamp":
            results.append(await _validate_timestamp(reader, signature, roots, timing, at))
        else:
            results.append(
                await _validate_signature(reader, signature, doc_timestamps, roots, timing, at)
            )
    return DocumentValidation(
        signatures=tuple(results),
        validation_time=timing.validation_time,
        revisions=reader.xrefs.total_revisions,
    )


def validate_document(
    pdf: bytes | bytearray | memoryview | BinaryIO,
    trust_roots: Sequence[asn1_x509.Certificate],
    *,
    at: dt.datetime | None = None,
) -> DocumentValidation:
    """Synchronous :func:`async_validate_document` (not from inside a running event loop)."""
    return asyncio.run(async_validate_document(pdf, trust_roots, at=at))
