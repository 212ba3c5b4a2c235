"""Verification reports: what :mod:`keiin.pdf.validation` found, with the facts a reader needs,
as a page for terminals, as JSON and as an ETSI TS 119 102-2 validation report (XML).

One implementation for ``keiin verify`` and the verification page. :func:`build_report`
validates a PDF (:func:`keiin.pdf.validation.validate_document`, offline, against the given
roots) and adds, per signature and document timestamp, what the validation result does not
carry: the signer's name, organisation, e-mail, certificate serial, issuer and validity; the
timestamp authority and genTime that prove the signing time; the revocation data embedded in
the signature and in the document's DSS. Nothing is ever fetched.

:func:`build_report_limited` does the same in a child process with an address-space limit
and a wall-clock timeout, so that a booby-trapped file (a decompression bomb, a reference
loop, a huge object count) gives an ``INDETERMINATE`` report with the reason instead of
exhausting or hanging the machine. Input that is a PDF but cannot be read gives a ``FAILED``
(``FORMAT_FAILURE``) report; only input without a PDF header is refused
(:func:`looks_like_pdf`), by the caller.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import multiprocessing
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO, Literal

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509

from keiin.pdf.errors import PdfInputError
from keiin.pdf.validation import (
    HEADER_WINDOW,
    DocumentValidation,
    Indication,
    SignatureValidation,
    validate_document,
)

__all__ = [
    "ETSI_NAMESPACE",
    "CertificateInfo",
    "Limits",
    "Problem",
    "SignatureFacts",
    "TimestampInfo",
    "VerificationReport",
    "build_report",
    "build_report_limited",
    "looks_like_pdf",
    "render_json",
    "render_text",
    "render_xml",
]

#: ETSI TS 119 102-2 V1.2.1 validation report namespace.
ETSI_NAMESPACE = "http://uri.etsi.org/19102/v1.2.1#"
#: XML digital signature namespace (DigestMethod, DigestValue, SignatureValue).
DS_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"
#: The JSON schema's name and version.
JSON_SCHEMA = "keiin.verification-report/1"

_MAIN_INDICATION = "urn:etsi:019102:mainindication:"
_SUB_INDICATION = "urn:etsi:019102:subindication:"
_DIGEST_URIS = {
    "sha256": "http://www.w3.org/2001/04/xmlenc#sha256",
    "sha384": "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "sha512": "http://www.w3.org/2001/04/xmlenc#sha512",
    "sha1": "http://www.w3.org/2000/09/xmldsig#sha1",
}
_LEVEL_NAMES = {"B-B": "B", "B-T": "T", "B-LT": "LT", "B-LTA": "LTA"}
_JAPANESE = {"TOTAL-PASSED": "有効", "INDETERMINATE": "判定不能", "FAILED": "無効"}
_ALLOWED_MODIFICATIONS = frozenset({"none", "lta_updates", "form_filling"})

ProblemCode = Literal["unreadable", "memory_limit", "time_limit", "crashed"]


# --------------------------------------------------------------------------------------
# Facts read from the file


@dataclass(frozen=True)
class CertificateInfo:
    """The facts of one certificate a reader asks about (``der`` is not in :meth:`to_dict`)."""

    name: str | None
    organisation: str | None
    email: str | None
    subject: str
    issuer: str
    serial_hex: str
    not_before: dt.datetime
    not_after: dt.datetime
    sha256: str
    der: bytes

    @classmethod
    def of(cls, cert: asn1_x509.Certificate) -> CertificateInfo:
        """Read ``cert`` (asn1crypto)."""
        subject = cert.subject.native
        emails = [subject.get("email_address")] if subject.get("email_address") else []
        for general_name in cert.subject_alt_name_value or ():
            if general_name.name == "rfc822_name":
                emails.append(general_name.native)
        validity = cert["tbs_certificate"]["validity"]
        der = cert.dump()
        return cls(
            name=_first(subject.get("common_name")),
            organisation=_first(subject.get("organization_name")),
            email=_first(emails[0]) if emails else None,
            subject=cert.subject.human_friendly,
            issuer=cert.issuer.human_friendly,
            serial_hex=format(cert.serial_number, "x"),
            not_before=validity["not_before"].native,
            not_after=validity["not_after"].native,
            sha256=hashlib.sha256(der).hexdigest(),
            der=der,
        )

    def validity_at(self, moment: dt.datetime | None) -> str:
        """``valid``, ``expired`` or ``not_yet_valid`` at ``moment`` (``unknown`` if none)."""
        if moment is None:
            return "unknown"
        if moment < self.not_before:
            return "not_yet_valid"
        return "expired" if moment > self.not_after else "valid"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "name": self.name,
            "organisation": self.organisation,
            "email": self.email,
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial_hex,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class TimestampInfo:
    """A timestamp token: who issued it and when (``token_der`` is not in :meth:`to_dict`)."""

    authority: str | None
    authority_certificate: CertificateInfo | None
    gen_time: dt.datetime
    serial_hex: str
    policy: str
    token_der: bytes

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        cert = self.authority_certificate
        return {
            "authority": self.authority,
            "authority_certificate": cert.to_dict() if cert else None,
            "gen_time": self.gen_time.isoformat(),
            "serial": self.serial_hex,
            "policy": self.policy,
        }


@dataclass(frozen=True)
class SignatureFacts:
    """What one signature's CMS holds beyond the validation result."""

    field_name: str
    signer: CertificateInfo | None
    #: The signature timestamp (for a document timestamp: the token itself).
    timestamp: TimestampInfo | None
    #: OCSP responses and CRLs inside the signature (Adobe archival attribute, CMS crls).
    embedded_ocsp: int
    embedded_crls: int
    digest_algorithm: str | None
    message_digest: bytes | None
    signature_value: bytes | None


@dataclass(frozen=True)
class Problem:
    """Why a file has no (complete) validation: unreadable, or a limit was reached."""

    code: ProblemCode
    message: str

    @property
    def indication(self) -> Indication:
        """``FAILED`` for an unreadable PDF, ``INDETERMINATE`` when validation stopped."""
        return "FAILED" if self.code == "unreadable" else "INDETERMINATE"

    @property
    def sub_indication(self) -> str | None:
        """``FORMAT_FAILURE`` for an unreadable PDF; no ETSI name fits a limit."""
        return "FORMAT_FAILURE" if self.code == "unreadable" else None


@dataclass(frozen=True)
class Limits:
    """Resource limits of :func:`build_report_limited` (``None``: no limit)."""

    memory_bytes: int | None = 2 << 30
    timeout_seconds: float | None = 60.0


# --------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class VerificationReport:
    """A validated PDF with its facts: input to :func:`render_text`, :func:`render_json` and
    :func:`render_xml`. ``validation`` is ``None`` when ``problem`` says why."""

    file_name: str | None
    sha256: str | None
    size: int | None
    validation: DocumentValidation | None
    facts: tuple[SignatureFacts, ...]
    dss_ocsp: int
    dss_crls: int
    dss_certificates: int
    problem: Problem | None
    validation_time: dt.datetime

    @property
    def entries(self) -> list[tuple[SignatureValidation, SignatureFacts | None]]:
        """Each signature and document timestamp (signing order) with its facts."""
        if self.validation is None:
            return []
        by_name = {f.field_name: f for f in self.facts}
        return [(s, by_name.get(s.field_name)) for s in self.validation.signatures]

    @property
    def passed(self) -> bool:
        """At least one signature, and every entry ``TOTAL-PASSED``."""
        return self.problem is None and self.validation is not None and self.validation.passed

    @property
    def indication(self) -> Indication:
        """The file's indication: that of the problem, else the worst entry's."""
        if self.problem is not None:
            return self.problem.indication
        if self.passed:
            return "TOTAL-PASSED"
        entries = self.validation.signatures if self.validation else ()
        return "FAILED" if any(s.indication == "FAILED" for s in entries) else "INDETERMINATE"

    @property
    def sub_indication(self) -> str | None:
        """The sub-indication of the problem or of the first entry with the file's indication."""
        if self.problem is not None:
            return self.problem.sub_indication
        entries = self.validation.signatures if self.validation else ()
        return next(
            (s.sub_indication for s in entries if s.indication == self.indication and not s.passed),
            None,
        )

    @property
    def reason(self) -> str:
        """The file's verdict in words."""
        if self.problem is not None:
            return self.problem.message
        if self.validation is None or not self.validation.signatures:
            return "the file has no signatures"
        if self.passed:
            return "every signature and document timestamp passed"
        if not any(s.kind != "doc_timestamp" for s in self.validation.signatures):
            return "the file has document timestamps but no signature"
        failing = [s.field_name for s in self.validation.signatures if not s.passed]
        return f"not passed: {', '.join(failing)}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (schema ``keiin.verification-report/1``)."""
        return {
            "schema": JSON_SCHEMA,
            "file": {
                "name": self.file_name,
                "sha256": self.sha256,
                "size": self.size,
                "revisions": self.validation.revisions if self.validation else None,
            },
            "validation_time": self.validation_time.isoformat(),
            "passed": self.passed,
            "indication": self.indication,
            "sub_indication": self.sub_indication,
            "reason": self.reason,
            "problem": (
                {"code": self.problem.code, "message": self.problem.message}
                if self.problem
                else None
            ),
            "revocation_data": {
                "dss": {
                    "ocsp_responses": self.dss_ocsp,
                    "crls": self.dss_crls,
                    "certificates": self.dss_certificates,
                },
                "fetched": 0,
            },
            "signatures": [self._entry_dict(s, f) for s, f in self.entries],
        }

    def _entry_dict(
        self, entry: SignatureValidation, facts: SignatureFacts | None
    ) -> dict[str, Any]:
        signer = facts.signer if facts else None
        stamp = facts.timestamp if facts else None
        revisions = self.validation.revisions if self.validation else 0
        return {
            "field_name": entry.field_name,
            "kind": entry.kind,
            "level": entry.level,
            "passed": entry.passed,
            "indication": entry.indication,
            "sub_indication": entry.sub_indication,
            "reason": entry.reason,
            "signer": signer.to_dict() if signer else None,
            "signing_time": {
                "claimed": _iso(entry.signing_time) if entry.kind != "doc_timestamp" else None,
                "best": _iso(_best_time(entry)),
                "proof": {"type": "timestamp", **stamp.to_dict()} if stamp else None,
            },
            "coverage": {
                "signed_revision": entry.revision,
                "revisions": revisions,
                "later_revisions": _later(entry, revisions),
                "whole_document": _later(entry, revisions) == 0,
                "coverage": entry.coverage,
                "modification_level": entry.modification_level,
                "docmdp_ok": entry.docmdp_ok,
                "modifications_allowed": _allowed(entry),
            },
            "certificate_status": {
                "at_signing_time": signer.validity_at(_best_time(entry)) if signer else "unknown",
                "now": signer.validity_at(self.validation_time) if signer else "unknown",
                "revocation": _revocation(entry),
            },
            "revocation_data": {
                "embedded_in_signature": {
                    "ocsp_responses": facts.embedded_ocsp if facts else 0,
                    "crls": facts.embedded_crls if facts else 0,
                },
                "fetched": 0,
            },
            "checks": {
                "intact": entry.intact,
                "valid": entry.valid,
                "trusted": entry.trusted,
                "revocation_ok": entry.revocation_ok,
            },
        }


def _first(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return str(value[0]) if value else None
    return str(value)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _best_time(entry: SignatureValidation) -> dt.datetime | None:
    """The proven signing time (timestamp genTime), else the claimed one."""
    return entry.timestamp_time or entry.signing_time


def _later(entry: SignatureValidation, revisions: int) -> int | None:
    return None if entry.revision is None else max(0, revisions - 1 - entry.revision)


def _allowed(entry: SignatureValidation) -> bool | None:
    """Whether the changes after signing are ones the signature (and DocMDP) allows."""
    if entry.modification_level is None:
        return None
    return entry.modification_level in _ALLOWED_MODIFICATIONS and entry.docmdp_ok is not False


def _revocation(entry: SignatureValidation) -> str:
    """``good`` (the file proves it), ``revoked`` or ``unknown``."""
    if entry.revocation_ok:
        return "good"
    if entry.sub_indication and entry.sub_indication.startswith("REVOKED"):
        return "revoked"
    return "unknown"


# --------------------------------------------------------------------------------------
# Reading facts


def looks_like_pdf(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts (within :data:`HEADER_WINDOW` bytes) with a PDF header."""
    with open(path, "rb") as handle:
        return b"%PDF-" in handle.read(HEADER_WINDOW)


def _attr_values(attrs: Any, name: str) -> list[Any]:
    return [v for attr in attrs or () if attr["type"].native == name for v in attr["values"]]


def _token_signer(token: cms.SignedData) -> asn1_x509.Certificate | None:
    """The TSA certificate in a timestamp token, matched by issuer and serial."""
    sid = token["signer_infos"][0]["sid"]
    if sid.name != "issuer_and_serial_number":
        return None
    wanted = sid.chosen
    for choice in token["certificates"] or ():
        cert = choice.chosen
        if (
            isinstance(cert, asn1_x509.Certificate)
            and cert.serial_number == wanted["serial_number"].native
            and cert.issuer == wanted["issuer"]
        ):
            return cert
    return None


def _timestamp_info(token: cms.SignedData) -> TimestampInfo:
    tst = token["encap_content_info"]["content"].parsed
    cert = _safe(lambda: _token_signer(token))
    info = CertificateInfo.of(cert) if cert is not None else None
    tsa_name = _safe(lambda: tst["tsa"].chosen.human_friendly if tst["tsa"].native else None)
    return TimestampInfo(
        authority=(info.name if info else None) or tsa_name,
        authority_certificate=info,
        gen_time=tst["gen_time"].native,
        serial_hex=format(tst["serial_number"].native, "x"),
        policy=tst["policy"].dotted,
        token_der=token.dump(),
    )


def _facts_of_signature(signature: Any) -> SignatureFacts:
    signed_data: cms.SignedData = signature.signed_data
    signer_info = signature.signer_info
    cert = _safe(lambda: signature.signer_cert)
    if signature.sig_object_type == "/DocTimeStamp":
        stamp = _safe(lambda: _timestamp_info(signed_data))
    else:
        tokens = _attr_values(signer_info["unsigned_attrs"], "signature_time_stamp_token")
        stamps = [
            s for s in (_safe(lambda t=t: _timestamp_info(t["content"])) for t in tokens) if s
        ]
        stamp = min(stamps, key=lambda s: s.gen_time) if stamps else None
    archival = _attr_values(signer_info["signed_attrs"], "adobe_revocation_info_archival")
    ocsp = sum(len(a["ocsp"]) if a["ocsp"].native else 0 for a in archival)
    crls = sum(len(a["crl"]) if a["crl"].native else 0 for a in archival)
    crls += len(signed_data["crls"]) if signed_data["crls"].native else 0
    digests = _attr_values(signer_info["signed_attrs"], "message_digest")
    return SignatureFacts(
        field_name=str(signature.field_name),
        signer=CertificateInfo.of(cert) if cert is not None else None,
        timestamp=stamp,
        embedded_ocsp=ocsp,
        embedded_crls=crls,
        digest_algorithm=_safe(lambda: signer_info["digest_algorithm"]["algorithm"].native),
        message_digest=digests[0].native if digests else None,
        signature_value=_safe(lambda: signer_info["signature"].native),
    )


def _read_facts(stream: BinaryIO) -> tuple[tuple[SignatureFacts, ...], tuple[int, int, int]]:
    """Facts of every readable signature, and the DSS's OCSP, CRL and certificate counts."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import DocumentSecurityStore
    from pyhanko.sign.validation.errors import NoDSSFoundError

    stream.seek(0)
    reader = PdfFileReader(stream, strict=False)
    facts = []
    for signature in _safe(lambda: list(reader.embedded_signatures)) or ():
        fact = _safe(lambda s=signature: _facts_of_signature(s))
        if fact is not None:
            facts.append(fact)
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        counts = (len(dss.ocsps), len(dss.crls), len(list(dss.load_certs())))
    except NoDSSFoundError:
        counts = (0, 0, 0)
    except Exception:  # a broken DSS: the validation reports what it means
        counts = (0, 0, 0)
    return tuple(facts), counts


def _safe(get: Any) -> Any:
    try:
        return get()
    except Exception:  # descriptive facts only: a missing fact is None
        return None


def _sha256_and_size(stream: BinaryIO) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    stream.seek(0)
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


# --------------------------------------------------------------------------------------
# Building


def build_report(
    pdf: str | os.PathLike[str] | bytes,
    trust_roots: Sequence[Any],
    *,
    at: dt.datetime | None = None,
    file_name: str | None = None,
) -> VerificationReport:
    """Validate ``pdf`` (a path or the bytes) offline against ``trust_roots`` and gather the
    facts of every signature. A PDF that cannot be read gives a ``FAILED`` report (problem
    ``unreadable``); an unreadable path raises :class:`OSError`."""
    if isinstance(pdf, bytes):
        with BytesIO(pdf) as stream:
            return _build(stream, trust_roots, at, file_name)
    with open(pdf, "rb") as stream:
        return _build(stream, trust_roots, at, file_name or Path(pdf).name)


def _build(
    stream: BinaryIO,
    trust_roots: Sequence[Any],
    at: dt.datetime | None,
    file_name: str | None,
) -> VerificationReport:
    sha256, size = _sha256_and_size(stream)
    try:
        validation = validate_document(stream, trust_roots, at=at)
    except PdfInputError as exc:
        return problem_report(
            Problem("unreadable", exc.reason), file_name=file_name, sha256=sha256, size=size, at=at
        )
    facts, (ocsp, crls, certs) = _safe(lambda: _read_facts(stream)) or ((), (0, 0, 0))
    return VerificationReport(
        file_name=file_name,
        sha256=sha256,
        size=size,
        validation=_plain(validation),
        facts=facts,
        dss_ocsp=ocsp,
        dss_crls=crls,
        dss_certificates=certs,
        problem=None,
        validation_time=validation.validation_time,
    )


def _plain(validation: DocumentValidation) -> DocumentValidation:
    """``validation`` with plain ``str`` values: pyHanko's text objects (e.g. field names)
    hold a reference to the open file, which cannot be pickled or outlive it."""

    def plain(entry: SignatureValidation) -> SignatureValidation:
        changes = {
            item.name: str(value)
            for item in fields(entry)
            if isinstance(value := getattr(entry, item.name), str) and type(value) is not str
        }
        return replace(entry, **changes)

    return replace(validation, signatures=tuple(plain(s) for s in validation.signatures))


def problem_report(
    problem: Problem,
    *,
    file_name: str | None = None,
    sha256: str | None = None,
    size: int | None = None,
    at: dt.datetime | None = None,
) -> VerificationReport:
    """A report with no validation, only the problem that prevented it."""
    return VerificationReport(
        file_name=file_name,
        sha256=sha256,
        size=size,
        validation=None,
        facts=(),
        dss_ocsp=0,
        dss_crls=0,
        dss_certificates=0,
        problem=problem,
        validation_time=at or dt.datetime.now(dt.UTC),
    )


def _as_asn1_root(cert: Any) -> asn1_x509.Certificate:
    """A trust root as asn1crypto (it crosses to the child process as DER)."""
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    from cryptography.hazmat.primitives.serialization import Encoding

    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _child(
    sender: Any,
    path: str,
    roots_der: Sequence[bytes],
    at: dt.datetime | None,
    memory_bytes: int | None,
) -> None:
    """In the child: limit the address space, build the report, send it (or why not)."""
    import resource

    trust_roots = [asn1_x509.Certificate.load(der) for der in roots_der]

    # The child's stderr is silenced: a MemoryError may not even leave room for a clean
    # message, and the parent reports the outcome itself.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    payload: tuple[str, Any]
    try:
        if memory_bytes is not None:
            _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            limit = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        payload = ("report", build_report(path, trust_roots, at=at))
    except MemoryError:
        payload = ("memory", None)
    except BaseException as exc:  # reported by the parent, never raised there
        payload = ("error", f"{type(exc).__name__}: {exc}")
    try:
        sender.send(payload)
    except BaseException:
        os._exit(3)
    sender.close()


def build_report_limited(
    path: str | os.PathLike[str],
    trust_roots: Sequence[Any],
    *,
    at: dt.datetime | None = None,
    limits: Limits | None = None,
) -> VerificationReport:
    """:func:`build_report` for the file at ``path`` in a child process limited to
    ``limits.memory_bytes`` of address space (``RLIMIT_AS``) and ``limits.timeout_seconds``
    of wall-clock time. Reaching a limit, or the child dying, gives an ``INDETERMINATE``
    report with the reason; the child is killed on timeout. Linux/POSIX only (``fork``):
    call it from a process without other threads, e.g. the CLI."""
    limits = limits or Limits()
    path = os.fspath(path)
    name = Path(path).name
    with open(path, "rb") as stream:  # OSError for the caller; the digest needs no limit
        sha256, size = _sha256_and_size(stream)
    # forkserver: the child starts from a clean single-threaded server, never from a copy of
    # a caller that has threads (a lock held by another thread at fork would hang it).
    context = multiprocessing.get_context(
        "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    )
    roots_der = [_as_asn1_root(c).dump() for c in trust_roots]
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(sender, path, roots_der, at, limits.memory_bytes), daemon=True
    )
    process.start()
    sender.close()
    outcome: tuple[str, Any] | None = None
    timed_out = False
    try:
        if receiver.poll(limits.timeout_seconds):
            try:
                outcome = receiver.recv()
            except (EOFError, OSError):
                outcome = None  # the child died before it could answer
        else:
            timed_out = True
    finally:
        if process.is_alive() and (timed_out or outcome is None):
            process.kill()
        process.join()
        receiver.close()
    if outcome is not None and outcome[0] == "report":
        report: VerificationReport = outcome[1]
        return report
    if timed_out:
        problem = Problem(
            "time_limit",
            f"the validation did not finish within its time limit ({limits.timeout_seconds:g} s)",
        )
    elif (outcome is not None and outcome[0] == "memory") or (
        outcome is None and limits.memory_bytes is not None
    ):
        assert limits.memory_bytes is not None
        problem = Problem(
            "memory_limit",
            "the validation exceeded its memory limit "
            f"({limits.memory_bytes / (1 << 20):g} MiB)"
            + ("" if outcome else f" or crashed (exit status {process.exitcode})"),
        )
    else:
        detail = outcome[1] if outcome else f"exit status {process.exitcode}"
        problem = Problem("crashed", f"the validation stopped unexpectedly: {detail}")
    return problem_report(problem, file_name=name, sha256=sha256, size=size, at=at)


# --------------------------------------------------------------------------------------
# Rendering: text


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _verdict(indication: str, sub_indication: str | None) -> str:
    text = f"{indication} ({_JAPANESE.get(indication, '?')})"
    return f"{text} / {sub_indication}" if sub_indication else text


def _person(cert: CertificateInfo | None) -> str:
    if cert is None:
        return "- (no signer certificate)"
    parts = [cert.name or cert.subject]
    if cert.organisation and cert.organisation != cert.name:
        parts.append(f"/ {cert.organisation}")
    if cert.email:
        parts.append(f"<{cert.email}>")
    return " ".join(parts)


def render_text(report: VerificationReport) -> str:
    """A page for terminals: the file, its verdict, then one block per signature and
    document timestamp. Labels are ASCII and left-aligned, so Japanese names do not break
    the layout."""
    lines = [
        f"file        {report.file_name or '-'}",
        f"SHA-256     {report.sha256 or '-'}",
        f"size        {report.size if report.size is not None else '-'} bytes"
        + (f", {report.validation.revisions} revision(s)" if report.validation else ""),
        f"checked at  {_when(report.validation_time)} (offline: nothing fetched)",
        f"result      {_verdict(report.indication, report.sub_indication)}",
        f"            {report.reason}",
    ]
    if report.validation is not None:
        lines.append(
            f"DSS         {report.dss_ocsp} OCSP response(s), {report.dss_crls} CRL(s), "
            f"{report.dss_certificates} certificate(s)"
        )
    revisions = report.validation.revisions if report.validation else 0
    for number, (entry, facts) in enumerate(report.entries, 1):
        lines.extend(["", *_block(number, entry, facts, revisions, report.validation_time)])
    return "\n".join(lines) + "\n"


def _block(
    number: int,
    entry: SignatureValidation,
    facts: SignatureFacts | None,
    revisions: int,
    now: dt.datetime,
) -> list[str]:
    kind = {"doc_timestamp": "document timestamp", "certification": "certification"}.get(
        entry.kind, "signature"
    )
    level = f", PAdES {entry.level}" if entry.level else ""
    signer = facts.signer if facts else None
    stamp = facts.timestamp if facts else None
    out = [
        f"[{number}] {entry.field_name} ({kind}{level})",
        f"  result        {_verdict(entry.indication, entry.sub_indication)}",
        f"  {'authority' if entry.kind == 'doc_timestamp' else 'signer':13} {_person(signer)}",
    ]
    if signer is not None:
        out.append(f"  certificate   serial {signer.serial_hex}, issued by {signer.issuer}")
        out.append(f"                valid {_when(signer.not_before)} - {_when(signer.not_after)}")
    if entry.kind != "doc_timestamp":
        out.append(f"  signing time  {_when(entry.signing_time)} (claimed by the signer)")
    if stamp is not None:
        out.append(
            f"  time proof    timestamp by {stamp.authority or '-'}, "
            f"genTime {_when(stamp.gen_time)}"
        )
    elif entry.kind != "doc_timestamp":
        out.append("  time proof    none (no signature timestamp)")
    later = _later(entry, revisions)
    if entry.revision is not None:
        cover = (
            "the whole document"
            if later == 0
            else f"revision {entry.revision + 1} of {revisions}; {later} later revision(s)"
        )
        if later:
            allowed = _allowed(entry)
            verdict = {True: "allowed", False: "NOT allowed", None: "unknown"}[allowed]
            cover += f" ({entry.modification_level or 'unknown'} changes, {verdict}"
            if entry.docmdp_ok is not None:
                cover += f"; DocMDP {'respected' if entry.docmdp_ok else 'violated'}"
            cover += ")"
        out.append(f"  covers        {cover}")
    if signer is not None:
        out.append(
            f"  cert status   at signing time: {signer.validity_at(_best_time(entry))}, "
            f"now: {signer.validity_at(now)}, revocation: {_revocation(entry)}"
        )
    if facts is not None:
        out.append(
            f"  revocation    in the signature: {facts.embedded_ocsp} OCSP, "
            f"{facts.embedded_crls} CRL; fetched: none"
        )
    out.append(f"  reason        {entry.reason}")
    return out


# --------------------------------------------------------------------------------------
# Rendering: JSON and ETSI TS 119 102-2 XML


def render_json(report: VerificationReport) -> str:
    """The JSON form (:meth:`VerificationReport.to_dict`), indented, non-ASCII kept."""
    import json

    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _q(name: str) -> str:
    return f"{{{ETSI_NAMESPACE}}}{name}"


def _ds(name: str) -> str:
    return f"{{{DS_NAMESPACE}}}{name}"


def _sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, name, attrs)
    if text is not None:
        element.text = text
    return element


def _xml_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _status(parent: ET.Element, indication: str, sub_indication: str | None, reason: str) -> None:
    status = _sub(parent, _q("SignatureValidationStatus"))
    _sub(status, _q("MainIndication"), _MAIN_INDICATION + indication.lower())
    if sub_indication:
        _sub(status, _q("SubIndication"), _SUB_INDICATION + sub_indication)
    # Free text has no fixed place in the status: the reason goes in a ReportData element.
    data = _sub(status, _q("AssociatedValidationReportData"))
    additional = _sub(data, _q("AdditionalValidationReportData"))
    report_data = _sub(additional, _q("ReportData"))
    _sub(report_data, _q("Type"), "urn:keiin:reason")
    _sub(report_data, _q("Value"), reason)


def render_xml(report: VerificationReport) -> str:
    """The ETSI TS 119 102-2 (V1.2.1) validation report: one ``SignatureValidationReport``
    per signature and document timestamp (or one for the whole file when it could not be
    validated), and the certificates and timestamp tokens as ``SignatureValidationObjects``."""
    root = ET.Element(_q("ValidationReport"))
    objects: list[tuple[str, str, bytes]] = []
    entries = report.entries
    if not entries:
        svr = _sub(root, _q("SignatureValidationReport"))
        times = _sub(svr, _q("ValidationTimeInfo"))
        _sub(times, _q("ValidationTime"), _xml_time(report.validation_time))
        _status(svr, report.indication, report.sub_indication, report.reason)
    for number, (entry, facts) in enumerate(entries, 1):
        _signature_report(root, number, entry, facts, report.validation_time, objects)
    if objects:
        section = _sub(root, _q("SignatureValidationObjects"))
        for identifier, kind, der in objects:
            vo = _sub(section, _q("ValidationObject"), id=identifier)
            _sub(vo, _q("ObjectType"), f"urn:etsi:019102:validationObject:{kind}")
            representation = _sub(vo, _q("ValidationObjectRepresentation"))
            _sub(representation, _q("base64"), _b64(der))
    ET.indent(root)
    ET.register_namespace("vr", ETSI_NAMESPACE)  # the prefixes TS 119 102-2 examples use
    ET.register_namespace("ds", DS_NAMESPACE)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _signature_report(
    root: ET.Element,
    number: int,
    entry: SignatureValidation,
    facts: SignatureFacts | None,
    validation_time: dt.datetime,
    objects: list[tuple[str, str, bytes]],
) -> None:
    svr = _sub(root, _q("SignatureValidationReport"))
    ident = _sub(svr, _q("SignatureIdentifier"), id=f"sig-{number}")
    if facts and facts.message_digest is not None and facts.digest_algorithm in _DIGEST_URIS:
        dav = _sub(ident, _q("DigestAlgAndValue"))
        _sub(dav, _ds("DigestMethod"), Algorithm=_DIGEST_URIS[facts.digest_algorithm or ""])
        _sub(dav, _ds("DigestValue"), _b64(facts.message_digest))
    if facts and facts.signature_value is not None:
        _sub(ident, _ds("SignatureValue"), _b64(facts.signature_value))
    _sub(ident, _q("HashOnly"), "false")
    _sub(ident, _q("DocHashOnly"), "false")
    _sub(ident, _q("DAIdentifier"), entry.field_name)

    stamp = facts.timestamp if facts else None
    stamp_id = f"tst-{number}" if stamp else None
    if stamp is not None and stamp_id is not None:
        objects.append((stamp_id, "timestamp", stamp.token_der))
    times = _sub(svr, _q("ValidationTimeInfo"))
    _sub(times, _q("ValidationTime"), _xml_time(validation_time))
    best = _sub(times, _q("BestSignatureTime"))
    _sub(best, _q("POETime"), _xml_time(stamp.gen_time if stamp else validation_time))
    _sub(best, _q("TypeOfProof"), "urn:etsi:019102:poetype:validation")
    if stamp_id is not None:
        _sub(best, _q("POEObject"), VOReference=stamp_id)

    attributes = _sub(svr, _q("SignatureAttributes"))
    if entry.signing_time is not None and entry.kind != "doc_timestamp":
        signing = _sub(attributes, _q("SigningTime"), Signed="true")
        _sub(signing, _q("Time"), _xml_time(entry.signing_time))
    if stamp is not None and stamp_id is not None and entry.kind != "doc_timestamp":
        tst = _sub(attributes, _q("SignatureTimeStamp"), Signed="false")
        _sub(tst, _q("AttributeObject"), VOReference=stamp_id)
        _sub(tst, _q("TimeStampValue"), _xml_time(stamp.gen_time))

    signer = facts.signer if facts else None
    if signer is not None:
        cert_id = f"cert-{number}"
        objects.append((cert_id, "certificate", signer.der))
        info = _sub(svr, _q("SignerInformation"), Pseudonym="false")
        _sub(info, _q("SignerCertificate"), VOReference=cert_id)
        _sub(info, _q("Signer"), signer.subject)
    if entry.level is not None:
        quality = _sub(svr, _q("SignatureQuality"))
        _sub(
            quality,
            _q("SignatureQualityInformation"),
            f"urn:keiin:pades-level:PAdES-BASELINE-{_LEVEL_NAMES[entry.level]}",
        )
        process = _sub(svr, _q("SignatureValidationProcess"))
        process_id = "LTA" if entry.level == "B-LTA" else "LTVM"
        _sub(
            process,
            _q("SignatureValidationProcessID"),
            f"urn:etsi:019102:validationprocess:{process_id}",
        )
    _status(svr, entry.indication, entry.sub_indication, entry.reason)
