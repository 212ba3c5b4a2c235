"""The Evidence Record Syntax of RFC 4998 (§3, §4, §5), in asn1crypto classes and as DER.

The ASN.1 module of RFC 4998 is written with ``IMPLICIT TAGS``::

    EvidenceRecord ::= SEQUENCE {
        version                   INTEGER { v1(1) },
        digestAlgorithms          SEQUENCE OF AlgorithmIdentifier,
        cryptoInfos               [0] CryptoInfos OPTIONAL,
        encryptionInfo            [1] EncryptionInfo OPTIONAL,
        archiveTimeStampSequence  ArchiveTimeStampSequence }

    CryptoInfos ::= SEQUENCE SIZE (1..MAX) OF Attribute
    EncryptionInfo ::= SEQUENCE {
        encryptionInfoType   OBJECT IDENTIFIER,
        encryptionInfoValue  ANY DEFINED BY encryptionInfoType }

    ArchiveTimeStampSequence ::= SEQUENCE OF ArchiveTimeStampChain
    ArchiveTimeStampChain ::= SEQUENCE OF ArchiveTimeStamp
    ArchiveTimeStamp ::= SEQUENCE {
        digestAlgorithm  [0] AlgorithmIdentifier OPTIONAL,
        attributes       [1] Attributes OPTIONAL,
        reducedHashtree  [2] SEQUENCE OF PartialHashtree OPTIONAL,
        timeStamp        ContentInfo }
    PartialHashtree ::= SEQUENCE OF OCTET STRING

Keiin writes version 1, one digest algorithm (SHA-256 by default, parameters absent as RFC 5754
asks), no cryptoInfos, encryptionInfo or attributes, and leaves ``digestAlgorithm`` out of the
ArchiveTimeStamp (it is then the hash algorithm of the timestamp's messageImprint, §4.2).

:func:`encode_record` builds a record with these classes. :class:`RecordTemplate` writes the
same bytes for many documents that share one archive timestamp chain, splicing each document's
reduced hash tree between pre-encoded parts (the tests check both agree byte for byte).
"""

from __future__ import annotations

from collections.abc import Sequence

from asn1crypto import algos, cms, core

from keiin.tsa import der


class PartialHashtree(core.SequenceOf):
    """``SEQUENCE OF OCTET STRING``: the hash values of one group."""

    _child_spec = core.OctetString


class PartialHashtrees(core.SequenceOf):
    """``SEQUENCE OF PartialHashtree``: a reduced hash tree."""

    _child_spec = PartialHashtree


class DigestAlgorithms(core.SequenceOf):
    """``SEQUENCE OF AlgorithmIdentifier`` (a SEQUENCE here, unlike CMS's SET)."""

    _child_spec = algos.DigestAlgorithm


class CryptoInfos(core.SequenceOf):
    """``SEQUENCE SIZE (1..MAX) OF Attribute``."""

    _child_spec = cms.CMSAttribute


class EncryptionInfo(core.Sequence):
    """How the archived data was encrypted (RFC 4998 §3)."""

    _fields = [
        ("encryption_info_type", core.ObjectIdentifier),
        ("encryption_info_value", core.Any),
    ]


class ArchiveTimeStamp(core.Sequence):
    """A timestamp over the root of a hash tree, with the path from one data object."""

    _fields = [
        ("digest_algorithm", algos.DigestAlgorithm, {"implicit": 0, "optional": True}),
        ("attributes", cms.CMSAttributes, {"implicit": 1, "optional": True}),
        ("reduced_hashtree", PartialHashtrees, {"implicit": 2, "optional": True}),
        ("time_stamp", cms.ContentInfo),
    ]


class ArchiveTimeStampChain(core.SequenceOf):
    """Archive timestamps with one hash algorithm, each renewing the one before (§5.2)."""

    _child_spec = ArchiveTimeStamp


class ArchiveTimeStampSequence(core.SequenceOf):
    """Chains, each starting with a hash-tree renewal of the ones before (§5.2)."""

    _child_spec = ArchiveTimeStampChain


class EvidenceRecord(core.Sequence):
    """RFC 4998 §3: the evidence for one data object (or group)."""

    _fields = [
        ("version", core.Integer),
        ("digest_algorithms", DigestAlgorithms),
        ("crypto_infos", CryptoInfos, {"implicit": 0, "optional": True}),
        ("encryption_info", EncryptionInfo, {"implicit": 1, "optional": True}),
        ("archive_time_stamp_sequence", ArchiveTimeStampSequence),
    ]


#: DER AlgorithmIdentifier of each hash, parameters absent (RFC 5754 §2).
ALGORITHM_IDENTIFIERS: dict[str, bytes] = {
    name: algos.DigestAlgorithm({"algorithm": name}).dump()
    for name in ("sha256", "sha384", "sha512")
}


def archive_time_stamp(
    reduced: Sequence[Sequence[bytes]] | None, time_stamp: bytes
) -> ArchiveTimeStamp:
    """An ArchiveTimeStamp for a reduced hash tree (``None`` or empty: absent) and a DER
    TimeStampToken (ContentInfo)."""
    value: dict[str, object] = {"time_stamp": cms.ContentInfo.load(time_stamp)}
    if reduced:
        value["reduced_hashtree"] = PartialHashtrees([list(group) for group in reduced])
    return ArchiveTimeStamp(value)


def encode_record(
    chains: Sequence[Sequence[ArchiveTimeStamp]], digest_algorithms: Sequence[str]
) -> bytes:
    """DER EvidenceRecord v1 with these chains and digest algorithms (asn1crypto names)."""
    record = EvidenceRecord(
        {
            "version": 1,
            "digest_algorithms": [{"algorithm": name} for name in digest_algorithms],
            "archive_time_stamp_sequence": [list(chain) for chain in chains],
        }
    )
    return record.dump()


def _tlv(tag: int, content: bytes) -> bytes:
    return der.tlv(tag, content)


class RecordTemplate:
    """Evidence records of the documents of one hash tree, sharing one chain of archive
    timestamps: ``[reduced hash tree + first token, renewal tokens...]``.

    Only the first ArchiveTimeStamp differs between documents (its reduced hash tree), so
    everything after it is encoded once; :meth:`record` computes three lengths and joins.
    """

    def __init__(
        self, time_stamps: Sequence[bytes], digest_algorithms: Sequence[str] = ("sha256",)
    ) -> None:
        if not time_stamps:
            raise ValueError("a chain needs at least one timestamp")
        self._first_token = bytes(time_stamps[0])
        self._rest = b"".join(_tlv(der.SEQUENCE, bytes(t)) for t in time_stamps[1:])
        self._head = der.integer(1) + _tlv(
            der.SEQUENCE, b"".join(ALGORITHM_IDENTIFIERS[n] for n in digest_algorithms)
        )

    def record(self, reduced_der: bytes) -> bytes:
        """The DER EvidenceRecord for the document whose reduced hash tree contents (as from
        :meth:`keiin.evidence.tree.HashTree.reduced_der`) are ``reduced_der``."""
        length = der.length
        reduced = b"\xa2" + length(len(reduced_der)) if reduced_der else b""
        ats_len = len(reduced) + len(reduced_der) + len(self._first_token)
        ats = b"\x30" + length(ats_len)
        chain_len = len(ats) + ats_len + len(self._rest)
        chain = b"\x30" + length(chain_len)
        seq_len = len(chain) + chain_len
        seq = b"\x30" + length(seq_len)
        body_len = len(self._head) + len(seq) + seq_len
        return b"".join(
            (
                b"\x30",
                length(body_len),
                self._head,
                seq,
                chain,
                ats,
                reduced,
                reduced_der,
                self._first_token,
                self._rest,
            )
        )
