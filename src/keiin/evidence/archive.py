"""Making and renewing evidence records (RFC 4998 §4.2, §5.2).

The time-stamping authority is a callable ``timestamp(digest) -> bytes`` that returns the DER
TimeStampToken (CMS ContentInfo) whose messageImprint is ``digest`` hashed with the archive's
algorithm: Keiin's own TSA in process, or an RFC 3161 client. One call covers every document of
a renewal run, however many.

Three operations:

:meth:`Archive.seal`
    initial archive timestamp: a hash tree over the documents' hashes, one timestamp on the
    root, and per document the reduced hash tree (:meth:`Archive.record` gives the whole
    evidence record).
:meth:`Archive.renew_timestamp`
    timestamp renewal (§5.2), before the TSA certificate expires or its algorithms weaken:
    one new archive timestamp over the hash of the previous timeStamp, appended to the chain
    every document of the archive shares. No document is read.
:func:`renew_hash_tree`
    hash-tree renewal (§5.2), when the hash algorithm weakens: for each document, the new
    leaf is ``H(H(document) + H(ArchiveTimeStampSequence))`` with the new algorithm, a new tree
    and timestamp over those, and a new chain appended to each record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from keiin.evidence.record import (
    ArchiveTimeStamp,
    EvidenceRecord,
    RecordTemplate,
    archive_time_stamp,
    encode_record,
)
from keiin.evidence.tree import HashTree
from keiin.tsa import der

#: ``timestamp(digest) -> DER TimeStampToken`` over ``digest``.
TimestampFn = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Archive:
    """One hash tree and the archive timestamp chain on its root."""

    tree: HashTree
    time_stamps: tuple[bytes, ...]

    @classmethod
    def seal(
        cls, leaves: Sequence[bytes] | bytes, timestamp: TimestampFn, hash_name: str = "sha256"
    ) -> Archive:
        """Build the tree over ``leaves`` (the documents' hashes) and timestamp its root."""
        tree = HashTree(leaves, hash_name)
        return cls(tree, (bytes(timestamp(tree.root)),))

    def renew_timestamp(self, timestamp: TimestampFn) -> Archive:
        """The archive with one more archive timestamp, over the hash of the last timeStamp
        (timestamp renewal, RFC 4998 §5.2; same hash algorithm)."""
        previous = self.time_stamps[-1]
        digest = hashlib.new(self.tree.hash_name, previous).digest()
        return Archive(self.tree, (*self.time_stamps, bytes(timestamp(digest))))

    def template(self) -> RecordTemplate:
        """Encoder of this archive's evidence records."""
        return RecordTemplate(self.time_stamps, (self.tree.hash_name,))

    def record(self, index: int) -> bytes:
        """The DER EvidenceRecord of document ``index`` (its position among the leaves)."""
        return self.template().record(self.tree.reduced_der(index))

    def records(self) -> Iterator[bytes]:
        """Every document's DER EvidenceRecord, in leaf order."""
        template = self.template()
        reduced = self.tree.reduced_der
        for index in range(len(self.tree)):
            yield template.record(reduced(index))


def sequence_hash(record: EvidenceRecord, hash_name: str) -> bytes:
    """The hash of the record's ArchiveTimeStampSequence, DER as it stands (RFC 4998 §5.2)."""
    chains = record["archive_time_stamp_sequence"]
    encoded = der.tlv(der.SEQUENCE, b"".join(chain.dump() for chain in chains))
    return hashlib.new(hash_name, encoded).digest()


def renewal_leaf(document_digest: bytes, record: EvidenceRecord, hash_name: str) -> bytes:
    """``H(h + ha)``: the leaf of a document in a hash-tree renewal (RFC 4998 §5.2, steps
    3-5), ``h`` its hash and ``ha`` the hash of its ArchiveTimeStampSequence, both with the
    new algorithm ``hash_name``."""
    return hashlib.new(hash_name, document_digest + sequence_hash(record, hash_name)).digest()


def renew_hash_tree(
    documents: Sequence[tuple[bytes, bytes]], timestamp: TimestampFn, hash_name: str
) -> list[bytes]:
    """Hash-tree renewal (RFC 4998 §5.2) of ``(document digest, evidence record DER)``
    pairs, the digests made with the new ``hash_name``: the renewed records, in order.

    Raises ValueError on a record that does not parse (verify the records first).
    """
    records = []
    for _, blob in documents:
        records.append(EvidenceRecord.load(blob, strict=True))
    leaves = [renewal_leaf(d, r, hash_name) for (d, _), r in zip(documents, records, strict=True)]
    tree = HashTree(leaves, hash_name)
    token = bytes(timestamp(tree.root))
    renewed = []
    for index, record in enumerate(records):
        ats: ArchiveTimeStamp = archive_time_stamp(tree.reduced(index), token)
        chains = [list(chain) for chain in record["archive_time_stamp_sequence"]]
        algorithms = [a["algorithm"].native for a in record["digest_algorithms"]]
        if hash_name not in algorithms:
            algorithms.append(hash_name)
        renewed.append(encode_record([*chains, [ats]], algorithms))
    return renewed
