"""Verifying an evidence record for a document (RFC 4998 §5.3), as pure functions.

:func:`verify_evidence` walks the record's ArchiveTimeStampSequence chain by chain and stops at
the first step that fails; the :class:`EvidenceReport` names that step and says why:

``parse``
    the bytes are a DER EvidenceRecord v1 with at least one chain, every ArchiveTimeStamp
    carries a time-stamp token, and the hash algorithms are ones Keiin supports.
``digest-algorithms``
    every hash algorithm the chains use is listed in ``digestAlgorithms``, and all archive
    timestamps of a chain use the same one.
``hash-tree``
    for each archive timestamp, the value it must cover (see below) is in the first list of
    its reduced hash tree, and hashing up the tree gives the messageImprint of its token.
``timestamp``
    the token passes :func:`keiin.tsa.verify.verify_token` against ``trust_roots`` (imprint,
    signature, signing certificate, TSA certificate, certificate path, token revocation).
``renewal``
    each timestamp is later than the one it renews, and was made while the TSA certificate of
    the renewed one was still valid.

What each archive timestamp covers:

* the first of the first chain: the document's hash (initial archive timestamp, §4.2);
* every further one of a chain: the hash of the previous archive timestamp's timeStamp
  field (timestamp renewal, §5.2);
* the first of a later chain: ``H(H(document) + H(ArchiveTimeStampSequence of the chains
  before))`` with that chain's algorithm (hash-tree renewal, §5.2).

Nothing here raises on bad input: a malformed record is a failed ``parse`` step.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from asn1crypto import core
from cryptography import x509

from keiin.evidence.record import EvidenceRecord
from keiin.evidence.tree import DIGEST_SIZES, root_of
from keiin.tsa import der
from keiin.tsa.verify import TokenReport, verify_token

STEPS = ("parse", "digest-algorithms", "hash-tree", "timestamp", "renewal")

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArchiveTimestampInfo:
    """One verified archive timestamp: where it sits and what its token says."""

    chain: int
    index: int
    digest_algorithm: str
    gen_time: dt.datetime | None
    report: TokenReport


@dataclass(frozen=True)
class EvidenceReport:
    """The outcome of :func:`verify_evidence`: ``ok``, or the step that failed and why."""

    ok: bool
    step: str | None
    reason: str
    timestamps: tuple[ArchiveTimestampInfo, ...] = ()


class _StepFailedError(Exception):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason


@dataclass(frozen=True)
class _Ats:
    chain: int
    index: int
    algorithm: str
    reduced: list[list[bytes]]
    time_stamp: bytes  # DER ContentInfo, as in the record
    imprint_algorithm: str
    imprint: bytes


def _parse(blob: bytes) -> tuple[EvidenceRecord, list[list[_Ats]]]:
    try:
        record = EvidenceRecord.load(blob, strict=True)
        version = record["version"].native
        algorithms = [a["algorithm"].native for a in record["digest_algorithms"]]
    except Exception as exc:
        raise _StepFailedError(
            "parse", f"not a DER EvidenceRecord: {type(exc).__name__}: {exc}"
        ) from None
    if version != 1:
        raise _StepFailedError("parse", f"unsupported EvidenceRecord version {version}")
    if not algorithms:
        raise _StepFailedError("parse", "digestAlgorithms is empty")
    try:
        sequence = record["archive_time_stamp_sequence"]
        len(sequence)
    except Exception as exc:
        raise _StepFailedError("parse", f"malformed ArchiveTimeStampSequence: {exc}") from None
    if not len(sequence):
        raise _StepFailedError("parse", "the record has no archive timestamp chain")
    chains: list[list[_Ats]] = []
    for c, chain in enumerate(sequence):
        try:
            len(chain)
        except Exception as exc:
            raise _StepFailedError("parse", f"chain {c} is malformed: {exc}") from None
        if not len(chain):
            raise _StepFailedError("parse", f"chain {c} is empty")
        parsed = []
        for i, ats in enumerate(chain):
            parsed.append(_parse_ats(c, i, ats))
        chains.append(parsed)
    return record, chains


def _parse_ats(c: int, i: int, ats: core.Sequence) -> _Ats:
    where = f"archive timestamp {c}.{i}"
    try:
        info = ats["time_stamp"]
        time_stamp = info.dump()  # as in the record, before anything below parses it
        if info["content_type"].native != "signed_data":
            raise ValueError("the timeStamp is not CMS SignedData")
        encap = info["content"]["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise ValueError("the timeStamp does not encapsulate a TSTInfo")
        imprint = encap["content"].parsed["message_imprint"]
        imprint_algorithm = imprint["hash_algorithm"]["algorithm"].native
        hashed = imprint["hashed_message"].native
    except Exception as exc:
        raise _StepFailedError("parse", f"{where}: not a time-stamp token: {exc}") from None
    try:
        algorithm = imprint_algorithm
        if not isinstance(ats["digest_algorithm"], core.Void):
            algorithm = ats["digest_algorithm"]["algorithm"].native
        reduced_field = ats["reduced_hashtree"]
        reduced: list[list[bytes]] = []
        if not isinstance(reduced_field, core.Void):
            reduced = [[bytes(v.native) for v in group] for group in reduced_field]
    except Exception as exc:
        raise _StepFailedError("parse", f"{where}: malformed: {exc}") from None
    if algorithm not in DIGEST_SIZES:
        raise _StepFailedError("parse", f"{where}: unsupported hash algorithm {algorithm}")
    size = DIGEST_SIZES[algorithm]
    if reduced and not reduced[0]:
        raise _StepFailedError(
            "parse", f"{where}: the first list of the reduced hash tree is empty"
        )
    for group in reduced:
        if any(len(v) != size for v in group):
            raise _StepFailedError(
                "parse", f"{where}: a hash value is not a {size}-byte {algorithm}"
            )
    return _Ats(c, i, algorithm, reduced, time_stamp, imprint_algorithm, hashed)


def _digests(
    data: bytes | BinaryIO | None, digests: Mapping[str, bytes], names: set[str]
) -> dict[str, bytes]:
    known = {name: digests[name] for name in names if name in digests}
    missing = names - set(known)
    if not missing:
        return known
    if data is None:
        raise _StepFailedError(
            "hash-tree", f"no document given (nor its {', '.join(sorted(missing))})"
        )
    hashers = {name: hashlib.new(name) for name in missing}
    if isinstance(data, bytes | bytearray | memoryview):
        for h in hashers.values():
            h.update(data)
    else:
        try:
            while chunk := data.read(_CHUNK):
                for h in hashers.values():
                    h.update(chunk)
        except Exception as exc:
            raise _StepFailedError("hash-tree", f"the document could not be read: {exc}") from None
    return {**known, **{name: h.digest() for name, h in hashers.items()}}


def _sequence_hash(record: EvidenceRecord, chains: int, algorithm: str) -> bytes:
    sequence = record["archive_time_stamp_sequence"]
    encoded = der.tlv(der.SEQUENCE, b"".join(sequence[c].dump() for c in range(chains)))
    return hashlib.new(algorithm, encoded).digest()


def verify_evidence(
    record: bytes,
    *,
    data: bytes | BinaryIO | None = None,
    digests: Mapping[str, bytes] | None = None,
    trust_roots: Sequence[x509.Certificate],
    extra_certs: Sequence[x509.Certificate] = (),
    revoked_serials: Collection[int] = (),
    revoked_windows: Sequence[tuple[dt.datetime, dt.datetime]] = (),
    check_revocation: bool = True,
    fetch: bool = True,
    crls: Sequence[bytes] = (),
    ocsps: Sequence[bytes] = (),
    now: dt.datetime | None = None,
) -> EvidenceReport:
    """Verify the DER evidence record ``record`` for a document (RFC 4998 §5.3).

    The document is ``data`` (bytes, or a binary stream read once whatever the number of hash
    algorithms), or its hashes in ``digests`` (``{"sha256": ...}``). The other options are
    those of :func:`keiin.tsa.verify.verify_token`, applied to every token of the record.
    """
    done: list[ArchiveTimestampInfo] = []
    try:
        _verify(
            bytes(record),
            data,
            dict(digests or {}),
            done,
            {
                "trust_roots": trust_roots,
                "extra_certs": extra_certs,
                "revoked_serials": revoked_serials,
                "revoked_windows": revoked_windows,
                "check_revocation": check_revocation,
                "fetch": fetch,
                "crls": crls,
                "ocsps": ocsps,
                "now": now,
            },
        )
    except _StepFailedError as failure:
        return EvidenceReport(False, failure.step, failure.reason, tuple(done))
    except Exception as exc:  # a verifier reports, never raises
        return EvidenceReport(False, "parse", f"{type(exc).__name__}: {exc}", tuple(done))
    count = len(done)
    return EvidenceReport(
        True, None, f"{count} archive timestamp{'s' if count != 1 else ''} verified", tuple(done)
    )


def _verify(
    blob: bytes,
    data: bytes | BinaryIO | None,
    digests: dict[str, bytes],
    done: list[ArchiveTimestampInfo],
    token_options: dict,
) -> None:
    record, chains = _parse(blob)
    listed = [a["algorithm"].native for a in record["digest_algorithms"]]
    for chain in chains:
        algorithm = chain[0].algorithm
        for ats in chain:
            where = f"archive timestamp {ats.chain}.{ats.index}"
            if ats.algorithm != algorithm:
                raise _StepFailedError(
                    "digest-algorithms",
                    f"{where} uses {ats.algorithm}, its chain {algorithm}",
                )
        if algorithm not in listed:
            raise _StepFailedError("digest-algorithms", f"{algorithm} is not in digestAlgorithms")
    document = _digests(data, digests, {chain[0].algorithm for chain in chains})

    previous: tuple[_Ats, TokenReport] | None = None
    for c, chain in enumerate(chains):
        algorithm = chain[0].algorithm
        for ats in chain:
            where = f"archive timestamp {c}.{ats.index}"
            if ats.index > 0:
                assert previous is not None
                covered = hashlib.new(algorithm, previous[0].time_stamp).digest()
                what = "the hash of the previous timestamp"
            elif c == 0:
                covered = document[algorithm]
                what = "the document's hash"
            else:
                ha = _sequence_hash(record, c, algorithm)
                covered = hashlib.new(algorithm, document[algorithm] + ha).digest()
                what = "the hash of the document and the earlier chains"
            root = root_of(covered, ats.reduced, algorithm)
            if root is None:
                raise _StepFailedError(
                    "hash-tree", f"{where}: {what} is not in the first hash list"
                )
            if ats.imprint_algorithm != algorithm or root != ats.imprint:
                raise _StepFailedError(
                    "hash-tree",
                    f"{where}: the root of the hash tree over {what} is not the token's "
                    f"messageImprint",
                )
            report = verify_token(ats.time_stamp, digest=(algorithm, root), **token_options)
            if not report.ok:
                failed = "; ".join(f"{k.name}: {k.detail}" for k in report.failed)
                raise _StepFailedError("timestamp", f"{where}: {failed}")
            if previous is not None:
                _check_renewal(where, previous[1], report)
            done.append(ArchiveTimestampInfo(c, ats.index, algorithm, report.gen_time, report))
            previous = (ats, report)


def _check_renewal(where: str, earlier: TokenReport, later: TokenReport) -> None:
    assert earlier.gen_time is not None and later.gen_time is not None
    if later.gen_time < earlier.gen_time:
        raise _StepFailedError(
            "renewal",
            f"{where} ({later.gen_time.isoformat()}) is older than the timestamp it renews "
            f"({earlier.gen_time.isoformat()})",
        )
    cert = earlier.tsa_certificate
    if cert is not None and later.gen_time > cert.not_valid_after_utc:
        raise _StepFailedError(
            "renewal",
            f"{where} was made after the TSA certificate of the timestamp it renews expired "
            f"({cert.not_valid_after_utc.isoformat()})",
        )
