"""Merkle hash trees and reduced hash trees for evidence records (RFC 4998 §4.2, §4.3).

The tree is binary: the hash values of the leaves (one per data object) are taken two by two,
each pair is sorted in binary ascending order, concatenated and hashed (RFC 4998 §4.2, step
4), and so on level by level up to the root. A node left without a partner at the end of a
level is carried up unchanged; its reduced hash tree simply has no entry for that level.

Each level is kept as one ``bytes`` (the node hashes back to back), not as one Python object
per node: a million SHA-256 leaves take 32 MB for the leaves plus 32 MB for the levels above,
and building them costs one ``hashlib`` call per inner node (about 1.3 s on this machine).

A *reduced hash tree* (RFC 4998 §4.3) is what one data object needs to get from its own hash
to the root: a list of ``PartialHashtree`` values. The first holds the object's own hash and
its sibling; every further one holds only the sibling of the node on the way up.
:func:`root_of` runs this computation for a verifier (RFC 4998 §5.3, step 2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from keiin.tsa import der

#: Hash algorithms an evidence record may use (asn1crypto / hashlib names), with their size.
DIGEST_SIZES: dict[str, int] = {"sha256": 32, "sha384": 48, "sha512": 64}


def _hasher(hash_name: str) -> Callable[[bytes], hashlib._Hash]:
    if hash_name not in DIGEST_SIZES:
        raise ValueError(f"unsupported hash algorithm {hash_name!r}")
    return getattr(hashlib, hash_name)


def group_hash(values: Iterable[bytes], hash_name: str = "sha256") -> bytes:
    """The hash of a group of hash values: sorted binary ascending, concatenated, hashed."""
    return _hasher(hash_name)(b"".join(sorted(values))).digest()


class HashTree:
    """A binary RFC 4998 hash tree over the leaf hashes given, built at construction.

    ``leaves`` is either a sequence of digests or one ``bytes`` holding them back to back (the
    cheapest form for millions of leaves). Every digest must be ``DIGEST_SIZES[hash_name]``
    bytes long.
    """

    def __init__(self, leaves: Sequence[bytes] | bytes, hash_name: str = "sha256") -> None:
        new = _hasher(hash_name)
        size = DIGEST_SIZES[hash_name]
        if isinstance(leaves, bytes | bytearray | memoryview):
            level = bytes(leaves)
            if len(level) % size:
                raise ValueError(f"the leaves are not a whole number of {size}-byte digests")
        else:
            if any(len(leaf) != size for leaf in leaves):
                raise ValueError(f"every leaf must be a {size}-byte {hash_name} digest")
            level = b"".join(leaves)
        if not level:
            raise ValueError("a hash tree needs at least one leaf")
        self.hash_name = hash_name
        self.digest_size = size
        self._levels: list[bytes] = [level]
        while len(level) > size:
            nodes = [level[i : i + size] for i in range(0, len(level), size)]
            odd = nodes.pop() if len(nodes) % 2 else None
            parents = [
                new(a + b if a <= b else b + a).digest()
                for a, b in zip(nodes[0::2], nodes[1::2], strict=True)
            ]
            if odd is not None:
                parents.append(odd)  # no partner on this level: carried up unchanged
            level = b"".join(parents)
            self._levels.append(level)
        # Pre-encoded DER headers: OCTET STRING of one digest, PartialHashtree of one and two.
        octet = bytes((der.OCTET_STRING,)) + der.length(size)
        self._one_head = bytes((der.SEQUENCE,)) + der.length(len(octet) + size) + octet
        self._two_head = bytes((der.SEQUENCE,)) + der.length(2 * (len(octet) + size))
        self._octet = octet

    def __len__(self) -> int:
        """The number of leaves."""
        return len(self._levels[0]) // self.digest_size

    @property
    def depth(self) -> int:
        """The number of levels above the leaves."""
        return len(self._levels) - 1

    @property
    def root(self) -> bytes:
        """The root hash (the leaf itself for a tree of one leaf)."""
        return self._levels[-1]

    def leaf(self, index: int) -> bytes:
        """The hash of leaf ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(f"leaf {index} out of range (tree of {len(self)})")
        size = self.digest_size
        return self._levels[0][index * size : (index + 1) * size]

    def _siblings(self, index: int) -> list[bytes]:
        """The sibling hash on each level where leaf ``index``'s path has one, bottom up."""
        if not 0 <= index < len(self):
            raise IndexError(f"leaf {index} out of range (tree of {len(self)})")
        size = self.digest_size
        out = []
        for level in self._levels[:-1]:
            start = (index ^ 1) * size
            if start < len(level):
                out.append(level[start : start + size])
            index >>= 1
        return out

    def reduced(self, index: int) -> list[list[bytes]]:
        """The reduced hash tree of leaf ``index`` (RFC 4998 §4.3), as lists of hash values.

        Empty for a tree of one leaf: the root is the leaf, the timestamp covers it directly.
        """
        siblings = self._siblings(index)
        if not siblings:
            return []
        leaf = self.leaf(index)  # carried up unchanged to the first level with a sibling
        return [sorted((leaf, siblings[0])), *([s] for s in siblings[1:])]

    def reduced_der(self, index: int) -> bytes:
        """The DER contents of ``SEQUENCE OF PartialHashtree`` for leaf ``index`` (no tag or
        length: the caller wraps them, as ``[2] IMPLICIT`` in an ArchiveTimeStamp).

        Equivalent to encoding :meth:`reduced` with :mod:`keiin.evidence.record`, without
        building any ASN.1 object: this is the per-document cost of a renewal.
        """
        siblings = self._siblings(index)
        if not siblings:
            return b""
        leaf = self.leaf(index)
        first = siblings[0]
        octet = self._octet
        one = self._one_head
        low, high = (leaf, first) if leaf <= first else (first, leaf)
        return b"".join([self._two_head, octet, low, octet, high, *(one + s for s in siblings[1:])])


def root_of(
    leaf: bytes, reduced: Sequence[Sequence[bytes]], hash_name: str = "sha256"
) -> bytes | None:
    """The root hash a reduced hash tree leads to from ``leaf`` (RFC 4998 §5.3, step 2).

    The first list must contain ``leaf`` itself; every further list is completed with the hash
    computed so far. Returns ``None`` when ``leaf`` is not in the first list. An empty reduced
    hash tree leads to ``leaf`` itself.
    """
    if not reduced:
        return leaf
    first = list(reduced[0])
    if leaf not in first:
        return None
    current = group_hash(first, hash_name)
    for values in reduced[1:]:
        current = group_hash([*values, current], hash_name)
    return current
