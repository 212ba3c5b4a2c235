"""Verifying a time-stamp token the way Keiin's TSA terms ask customers to (pure functions).

The terms (seed 004, article 8 §3) make verifying each token the customer's duty: the token's
hash equals the hash of the data, the token's signature is valid, the certificate of the key
that signed it is not revoked, and the token itself is not revoked. :func:`verify_token` runs
exactly these checks and reports each one as a :class:`Check`, in this order:

``parse``
    the bytes are a granted TimeStampResp or a bare TimeStampToken (CMS SignedData with one
    SignerInfo encapsulating a TSTInfo).
``imprint``
    the data hashed with the token's algorithm (or the given digest) equals messageImprint.
``signature``
    contentType is id-ct-TSTInfo, messageDigest is the hash of the TSTInfo, and the signature
    over the DER SET OF signed attributes verifies with the TSA certificate's key.
``signing-certificate``
    the ESSCertIDv2 (RFC 5816) or ESSCertID (RFC 2634) names the TSA certificate: hash and,
    when present, issuer and serial.
``tsa-certificate``
    extended key usage is exactly id-kp-timeStamping and critical (RFC 3161 §2.3), genTime is
    within the certificate's validity, and the TSTInfo ``tsa`` name (if any) is the
    certificate's.
``certificate-path``
    pyhanko-certvalidator builds and validates the path to ``trust_roots``, with revocation
    checking (OCSP/CRL from the certificates' own AIA/CRL DP URLs) required when
    ``check_revocation``; see :func:`_check_path` for the validation time.
``not-revoked-token``
    the token's serial is not on the TSA's token revocation list and genTime is not inside a
    revoked time window (e.g. a clock incident).

Every check is always reported; one that cannot run because an earlier step failed (no token,
no certificate) is reported as failed with a detail starting "not checked".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import hashlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from keiin.tsa import der
from keiin.tsa.response import status_of
from keiin.tsa.template import token_of

CHECKS = (
    "parse",
    "imprint",
    "signature",
    "signing-certificate",
    "tsa-certificate",
    "certificate-path",
    "not-revoked-token",
)

#: Hashes accepted for the imprint, messageDigest, signature and ESSCertID (SHA-1 only for the
#: legacy ESSCertID certificate hash, where RFC 2634 mandates it).
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha224": hashes.SHA224(),
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
    "sha3_256": hashes.SHA3_256(),
    "sha3_384": hashes.SHA3_384(),
    "sha3_512": hashes.SHA3_512(),
}

#: CRL reasons after which tokens made *before* the revocation stay valid (RFC 3161 §4).
#: ``unspecified`` is left out on purpose: it is also what a CRL without a reason code says,
#: and RFC 3161 allows a key compromise to be published without one.
_BENIGN_REASONS = frozenset({"affiliation_changed", "superseded", "cessation_of_operation"})


@dataclass(frozen=True)
class Check:
    """The outcome of one verification step."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class TokenReport:
    """Every check of one token, and what the token says (when it could be parsed)."""

    checks: tuple[Check, ...]
    serial: int | None = None
    gen_time: dt.datetime | None = None
    policy: str | None = None
    tsa_certificate: x509.Certificate | None = None

    @property
    def ok(self) -> bool:
        """True only when every check passed."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        """The checks that did not pass, in order."""
        return tuple(c for c in self.checks if not c.ok)

    def check(self, name: str) -> Check:
        """The check called ``name`` (KeyError if there is none)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for ``keiin tsa verify --json``)."""
        cert = self.tsa_certificate
        return {
            "ok": self.ok,
            "serial": None if self.serial is None else format(self.serial, "x"),
            "gen_time": None if self.gen_time is None else self.gen_time.isoformat(),
            "policy": self.policy,
            "tsa_certificate": None
            if cert is None
            else {
                "subject": cert.subject.rfc4514_string(),
                "serial": format(cert.serial_number, "x"),
            },
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


@dataclass
class _Token:
    """What parsing found; filled in step by step."""

    signed_data: cms.SignedData
    signer_info: cms.SignerInfo
    tst_bytes: bytes
    tst_info: tsp.TSTInfo
    serial: int
    gen_time: dt.datetime
    policy: str
    certificates: list[x509.Certificate] = field(default_factory=list)


class _CheckFailedError(Exception):
    """A check failed; the message is the detail."""


def verify_token(
    token_or_response: bytes,
    *,
    data: bytes | None = None,
    digest: tuple[str, bytes] | None = None,
    trust_roots: Sequence[x509.Certificate],
    extra_certs: Sequence[x509.Certificate] = (),
    revoked_serials: Collection[int] = (),
    revoked_windows: Sequence[tuple[dt.datetime, dt.datetime]] = (),
    check_revocation: bool = True,
    fetch: bool = True,
    crls: Sequence[bytes] = (),
    ocsps: Sequence[bytes] = (),
    now: dt.datetime | None = None,
) -> TokenReport:
    """Run every check on a token (or a TimeStampResp); see the module docstring.

    ``data`` (the time-stamped bytes) or ``digest`` (``("sha256", bytes)``) is what the imprint
    is compared with. ``extra_certs`` supplies the TSA certificate (and intermediates) when the
    token does not carry them. ``crls``/``ocsps`` (DER) are revocation data to use besides what
    ``fetch`` retrieves. ``now`` overrides the current time (tests).
    """
    checks: list[Check] = []

    def add(name: str, run: Callable[[], str]) -> None:
        try:
            checks.append(Check(name, True, run()))
        except _CheckFailedError as exc:
            checks.append(Check(name, False, str(exc)))
        except Exception as exc:  # a check must report, never raise
            checks.append(Check(name, False, f"{type(exc).__name__}: {exc}"))

    try:
        token = _parse(bytes(token_or_response))
    except Exception as exc:
        detail = (
            str(exc) if isinstance(exc, _CheckFailedError) else f"not a time-stamp token: {exc}"
        )
        checks.append(Check("parse", False, detail))
        checks.extend(
            Check(n, False, "not checked: the token could not be parsed") for n in CHECKS[1:]
        )
        return TokenReport(tuple(checks))
    checks.append(
        Check(
            "parse",
            True,
            f"TSTInfo serial {token.serial:x}, genTime {token.gen_time.isoformat()}, "
            f"policy {token.policy}",
        )
    )

    candidates = [*token.certificates, *extra_certs]
    tsa_cert = _find_signer(token, candidates)

    add("imprint", lambda: _check_imprint(token, data, digest))
    add("signature", lambda: _check_signature(token, tsa_cert))
    add("signing-certificate", lambda: _check_signing_certificate(token, tsa_cert))
    add("tsa-certificate", lambda: _check_tsa_certificate(token, tsa_cert))
    add(
        "certificate-path",
        lambda: _check_path(
            tsa_cert,
            candidates,
            trust_roots,
            gen_time=token.gen_time,
            check_revocation=check_revocation,
            fetch=fetch,
            crls=crls,
            ocsps=ocsps,
            now=now,
        ),
    )
    add(
        "not-revoked-token",
        lambda: _check_token_revocation(token, revoked_serials, revoked_windows),
    )
    return TokenReport(tuple(checks), token.serial, token.gen_time, token.policy, tsa_cert)


# -- parse ---------------------------------------------------------------------------------


def _parse(blob: bytes) -> _Token:
    tag, start, end = der.read_header(blob)
    if tag != der.SEQUENCE or end != len(blob):
        raise _CheckFailedError("not a DER TimeStampResp or TimeStampToken")
    if start < end and blob[start] == der.SEQUENCE:  # TimeStampResp: PKIStatusInfo first
        status = status_of(blob)
        if not status.granted:
            fails = ", ".join(f.name for f in sorted(status.fail_info)) or "no failInfo"
            raise _CheckFailedError(
                f"the response is a rejection (status {status.status}, {fails})"
            )
        blob = token_of(blob)
    info = cms.ContentInfo.load(blob, strict=True)
    if info["content_type"].native != "signed_data":
        raise _CheckFailedError("the token is not CMS SignedData")
    signed_data = info["content"]
    encap = signed_data["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise _CheckFailedError("the SignedData does not encapsulate a TSTInfo")
    content = encap["content"]
    if not isinstance(content, core.ParsableOctetString):
        raise _CheckFailedError("the SignedData has no TSTInfo content")
    tst_bytes = bytes(content)
    tst_info = tsp.TSTInfo.load(tst_bytes, strict=True)
    tst_info.native  # noqa: B018 - parse every field now, so later checks cannot trip on it
    if int(tst_info["version"]) != 1:
        raise _CheckFailedError("unsupported TSTInfo version")
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise _CheckFailedError(f"a token has one SignerInfo, this one has {len(signer_infos)}")
    certificates = []
    for choice in signed_data["certificates"] or ():
        if choice.name == "certificate":
            certificates.append(x509.load_der_x509_certificate(choice.chosen.dump()))
    gen_time = tst_info["gen_time"].native
    return _Token(
        signed_data=signed_data,
        signer_info=signer_infos[0],
        tst_bytes=tst_bytes,
        tst_info=tst_info,
        serial=tst_info["serial_number"].native,
        gen_time=gen_time.astimezone(dt.UTC),
        policy=tst_info["policy"].dotted,
        certificates=certificates,
    )


def _asn1(cert: x509.Certificate) -> ax509.Certificate:
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _sid_matches(sid: cms.SignerIdentifier, cert: ax509.Certificate) -> bool:
    if sid.name == "issuer_and_serial_number":
        chosen = sid.chosen
        return (
            chosen["issuer"] == cert.issuer and chosen["serial_number"].native == cert.serial_number
        )
    return sid.chosen.native == cert.key_identifier


def _ess_cert_ids(token: _Token) -> list[tuple[str, Any]]:
    """The ESSCertID(v2)s of the signed attributes, each with its hash name."""
    found: list[tuple[str, Any]] = []
    for attr in token.signer_info["signed_attrs"] or ():
        kind = attr["type"].native
        if kind == "signing_certificate_v2":
            for value in attr["values"]:
                for cid in value["certs"]:
                    found.append((cid["hash_algorithm"]["algorithm"].native, cid))
        elif kind == "signing_certificate":
            for value in attr["values"]:
                for cid in value["certs"]:
                    found.append(("sha1", cid))
    return found


def _cert_hash(name: str, cert: x509.Certificate) -> bytes:
    return hashlib.new(name, cert.public_bytes(serialization.Encoding.DER)).digest()


def _find_signer(token: _Token, candidates: list[x509.Certificate]) -> x509.Certificate | None:
    """The certificate named by the SignerInfo's sid; among several, the one the ESSCertID
    names (a certificate may be reissued with the same key, issuer and serial)."""
    try:
        sid = token.signer_info["sid"]
        matching = [c for c in candidates if _sid_matches(sid, _asn1(c))]
        ess = _ess_cert_ids(token)
    except Exception:
        return None
    if not matching:
        return None
    if ess:
        name, first = ess[0]
        for cert in matching:
            try:
                if _cert_hash(name, cert) == first["cert_hash"].native:
                    return cert
            except ValueError:
                break
    return matching[0]


# -- imprint -------------------------------------------------------------------------------


def _normal_hash_name(name: str) -> str:
    """``SHA-256`` → ``sha256``, ``sha3-256`` → ``sha3_256``: asn1crypto's names."""
    compact = name.lower().replace("-", "").replace("_", "")
    if compact.startswith("sha3") and len(compact) == 7:
        return "sha3_" + compact[4:]
    return compact


def _check_imprint(token: _Token, data: bytes | None, digest: tuple[str, bytes] | None) -> str:
    imprint = token.tst_info["message_imprint"]
    name = imprint["hash_algorithm"]["algorithm"].native
    expected = imprint["hashed_message"].native
    if data is None and digest is None:
        raise _CheckFailedError("not checked: give the data (or its digest) the token should cover")
    if name not in _HASHES:
        raise _CheckFailedError(f"unsupported imprint algorithm {name}")
    if digest is not None:
        given_name, given = digest
        if _normal_hash_name(given_name) != name:
            raise _CheckFailedError(
                f"the token's imprint uses {name}, the digest given is {given_name}"
            )
        if given != expected:
            raise _CheckFailedError(f"the {name} digest given differs from the token's imprint")
    if data is not None and hashlib.new(name, data).digest() != expected:
        raise _CheckFailedError(f"the {name} hash of the data differs from the token's imprint")
    return f"{name} imprint matches the data"


# -- signature -----------------------------------------------------------------------------


def _signed_attr(token: _Token, kind: str) -> Any:
    values = [a["values"] for a in token.signer_info["signed_attrs"] if a["type"].native == kind]
    if len(values) != 1 or len(values[0]) != 1:
        raise _CheckFailedError(f"the signed attributes need exactly one {kind}")
    return values[0][0]


def _check_signature(token: _Token, cert: x509.Certificate | None) -> str:
    si = token.signer_info
    attrs = si["signed_attrs"]
    if isinstance(attrs, core.Void) or not len(attrs):
        raise _CheckFailedError("the SignerInfo has no signed attributes")
    if _signed_attr(token, "content_type").native != "tst_info":
        raise _CheckFailedError("the contentType attribute is not id-ct-TSTInfo")
    digest_name = si["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        raise _CheckFailedError(f"unsupported digest algorithm {digest_name}")
    if (
        _signed_attr(token, "message_digest").native
        != hashlib.new(digest_name, token.tst_bytes).digest()
    ):
        raise _CheckFailedError("the messageDigest attribute is not the hash of the TSTInfo")
    if cert is None:
        raise _CheckFailedError(
            "not checked: the TSA certificate is neither in the token nor given (extra_certs)"
        )
    signed = b"\x31" + attrs.dump()[1:]  # RFC 5652 §5.4: signed as an explicit SET OF
    algorithm = si["signature_algorithm"]
    try:
        _verify(cert.public_key(), algorithm, digest_name, si["signature"].native, signed)
    except InvalidSignature:
        raise _CheckFailedError(
            "the signature does not verify with the TSA certificate's key"
        ) from None
    return f"{algorithm.signature_algo} signature verifies with the TSA certificate's key"


def _verify(
    public_key: Any, algorithm: Any, digest_name: str, signature: bytes, signed: bytes
) -> None:
    kind = algorithm.signature_algo
    if kind == "rsassa_pss":
        params = algorithm["parameters"]
        hash_name = params["hash_algorithm"]["algorithm"].native
        mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise _CheckFailedError("an RSASSA-PSS signature needs an RSA key")
        public_key.verify(
            signature,
            signed,
            padding.PSS(
                mgf=padding.MGF1(_HASHES[mgf_hash]), salt_length=params["salt_length"].native
            ),
            _HASHES[hash_name],
        )
        return
    try:
        hash_name = algorithm.hash_algo
    except ValueError:  # rsaEncryption / id-ecPublicKey: the hash is the digestAlgorithm
        hash_name = digest_name
    if hash_name not in _HASHES:
        raise _CheckFailedError(f"unsupported signature hash {hash_name}")
    if kind == "ecdsa":
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise _CheckFailedError("an ECDSA signature needs an EC key")
        public_key.verify(signature, signed, ec.ECDSA(_HASHES[hash_name]))
    elif kind == "rsassa_pkcs1v15":
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise _CheckFailedError("an RSA signature needs an RSA key")
        public_key.verify(signature, signed, padding.PKCS1v15(), _HASHES[hash_name])
    else:
        raise _CheckFailedError(f"unsupported signature algorithm {kind}")


# -- signing certificate -------------------------------------------------------------------


def _check_signing_certificate(token: _Token, cert: x509.Certificate | None) -> str:
    ess = _ess_cert_ids(token)
    if not ess:
        raise _CheckFailedError("no signingCertificateV2 (or signingCertificate) attribute")
    if cert is None:
        raise _CheckFailedError("not checked: the TSA certificate was not found")
    name, cid = ess[0]
    if name != "sha1" and name not in _HASHES:
        raise _CheckFailedError(f"unsupported ESSCertID hash {name}")
    if _cert_hash(name, cert) != cid["cert_hash"].native:
        raise _CheckFailedError("the ESSCertID hash does not match the TSA certificate")
    issuer_serial = cid["issuer_serial"]
    if not isinstance(issuer_serial, core.Void):
        acert = _asn1(cert)
        if issuer_serial["serial_number"].native != acert.serial_number:
            raise _CheckFailedError("the ESSCertID serial number is not the TSA certificate's")
        names = [g.chosen for g in issuer_serial["issuer"] if g.name == "directory_name"]
        if acert.issuer not in names:
            raise _CheckFailedError("the ESSCertID issuer is not the TSA certificate's issuer")
    kind = "ESSCertIDv2" if name != "sha1" or _has_v2(token) else "ESSCertID"
    return f"{kind} ({name}) identifies the TSA certificate"


def _has_v2(token: _Token) -> bool:
    return any(
        a["type"].native == "signing_certificate_v2" for a in token.signer_info["signed_attrs"]
    )


# -- TSA certificate -----------------------------------------------------------------------


def _check_tsa_certificate(token: _Token, cert: x509.Certificate | None) -> str:
    if cert is None:
        raise _CheckFailedError("not checked: the TSA certificate was not found")
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise _CheckFailedError("the certificate has no extended key usage") from None
    if list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise _CheckFailedError("the extended key usage is not exactly id-kp-timeStamping")
    if not eku.critical:
        raise _CheckFailedError("the extended key usage extension is not critical")
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if not start <= token.gen_time <= end:
        raise _CheckFailedError(
            f"genTime {token.gen_time.isoformat()} is outside the certificate's validity "
            f"({start.isoformat()} to {end.isoformat()})"
        )
    tsa = token.tst_info["tsa"]
    if not isinstance(tsa, core.Void):
        acert = _asn1(cert)
        if tsa.name == "directory_name":
            if tsa.chosen != acert.subject:
                raise _CheckFailedError("the TSTInfo tsa name is not the certificate's subject")
        elif tsa.dump() not in {g.dump() for g in acert.subject_alt_name_value or ()}:
            raise _CheckFailedError("the TSTInfo tsa name is not one of the certificate's names")
    return "id-kp-timeStamping only, critical; genTime within the certificate's validity"


# -- certificate path ----------------------------------------------------------------------


def _run_async(make: Callable[[], Any]) -> Any:
    """Run the coroutine ``make()`` to completion, even when called inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def _validate(
    cert: x509.Certificate,
    others: list[x509.Certificate],
    roots: Sequence[x509.Certificate],
    *,
    moment: dt.datetime | None,
    check_revocation: bool,
    fetch: bool,
    crls: Sequence[bytes],
    ocsps: Sequence[bytes],
) -> None:
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    backend = None
    if fetch:
        # The requests backend: aiohttp's would warn about unclosed sessions.
        from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

        backend = RequestsFetcherBackend()
    context = ValidationContext(
        trust_roots=[_asn1(r) for r in roots],
        other_certs=[_asn1(c) for c in others],
        moment=moment,
        allow_fetching=fetch,
        fetcher_backend=backend,
        revocation_mode="require" if check_revocation else "soft-fail",
        retroactive_revinfo=moment is not None,
        crls=list(crls) or None,
        ocsps=list(ocsps) or None,
    )
    validator = CertificateValidator(_asn1(cert), validation_context=context)
    _run_async(validator.async_validate_path)


def _check_path(
    cert: x509.Certificate | None,
    others: list[x509.Certificate],
    roots: Sequence[x509.Certificate],
    *,
    gen_time: dt.datetime,
    check_revocation: bool,
    fetch: bool,
    crls: Sequence[bytes],
    ocsps: Sequence[bytes],
    now: dt.datetime | None,
) -> str:
    """Validate the TSA certificate's path; return what was checked.

    Validation time: *now* while the TSA certificate is still valid, else the end of its
    validity. A relying party wants to know whether the key is trustworthy today, and a key
    compromise revoked after genTime voids every token made with that key (RFC 3161 §4), so
    a revocation at any time up to then fails the check. Tokens outlive their TSA certificate,
    hence the validity end for an expired one (with the revocation information available now
    applied retroactively; CAs may drop expired certificates from their CRLs, after which
    nothing more can be learnt). When the certificate was revoked after genTime for a reason
    RFC 3161 §4 says leaves earlier tokens valid (affiliationChanged, superseded,
    cessationOfOperation — e.g. a TSA key rollover), the path is validated again at genTime
    (point-in-time) and that result counts.
    """
    from pyhanko_certvalidator.errors import RevokedError

    if cert is None:
        raise _CheckFailedError("not checked: the TSA certificate was not found")
    if not roots:
        raise _CheckFailedError("no trust roots given")
    if check_revocation and not fetch and not crls and not ocsps:
        raise _CheckFailedError(
            "not checked: revocation checking needs fetching or CRLs/OCSP responses"
        )
    options = {"check_revocation": check_revocation, "fetch": fetch, "crls": crls, "ocsps": ocsps}
    revocation = "revocation checked" if check_revocation else "revocation not required"
    current = now or dt.datetime.now(dt.UTC)
    expired = current > cert.not_valid_after_utc
    moment = cert.not_valid_after_utc if expired else now
    when = "at the end of its validity (the certificate has expired)" if expired else "now"
    try:
        _validate(cert, others, roots, moment=moment, **options)
        return f"path to a trust root valid {when} ({revocation})"
    except RevokedError as exc:
        benign = exc.reason.native in _BENIGN_REASONS
        if not (benign and exc.revocation_dt > gen_time):
            raise _CheckFailedError(f"revoked: {exc}") from None
        reason = f"revoked after genTime for {exc.reason.native}"
    except Exception as exc:
        raise _CheckFailedError(f"path validation {when} failed: {exc}") from None
    try:
        _validate(cert, others, roots, moment=gen_time, **options)
    except Exception as exc:
        raise _CheckFailedError(f"path validation at genTime failed ({reason}): {exc}") from None
    return f"path to a trust root valid at genTime ({reason}; {revocation})"


# -- token revocation ----------------------------------------------------------------------


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _check_token_revocation(
    token: _Token,
    revoked_serials: Collection[int],
    windows: Sequence[tuple[dt.datetime, dt.datetime]],
) -> str:
    if token.serial in revoked_serials:
        raise _CheckFailedError(f"token serial {token.serial:x} is on the token revocation list")
    for start, end in windows:
        if _utc(start) <= token.gen_time <= _utc(end):
            raise _CheckFailedError(
                f"genTime {token.gen_time.isoformat()} is inside the revoked window "
                f"{_utc(start).isoformat()} to {_utc(end).isoformat()}"
            )
    return (
        f"not on the token revocation list ({len(revoked_serials)} serials, {len(windows)} windows)"
    )
