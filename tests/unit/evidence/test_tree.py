"""keiin.evidence.tree: every leaf's reduced hash tree leads to the root, for any tree size,
and the fast DER path encodes what the asn1crypto classes encode."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keiin.evidence.record import PartialHashtrees
from keiin.evidence.tree import HashTree, group_hash, root_of


def leaves(n: int, seed: int = 0) -> list[bytes]:
    return [hashlib.sha256(f"{seed}/{i}".encode()).digest() for i in range(n)]


def test_small_tree_by_hand():
    a, b, c = leaves(3)
    ab = hashlib.sha256(min(a, b) + max(a, b)).digest()
    root = hashlib.sha256(min(ab, c) + max(ab, c)).digest()  # c is carried up unchanged
    tree = HashTree([a, b, c])
    assert tree.root == root and tree.depth == 2 and len(tree) == 3
    assert tree.reduced(0) == [sorted([a, b]), [c]]
    assert tree.reduced(2) == [sorted([c, ab])]  # c's first list: c and its first sibling
    assert group_hash([b, a]) == ab


def test_one_leaf_is_its_own_root():
    (a,) = leaves(1)
    tree = HashTree([a])
    assert tree.root == a and tree.reduced(0) == [] and tree.reduced_der(0) == b""
    assert root_of(a, []) == a


def test_leaves_as_one_bytes_object_and_errors():
    items = leaves(5)
    assert HashTree(b"".join(items)).root == HashTree(items).root
    with pytest.raises(ValueError):
        HashTree([])
    with pytest.raises(ValueError):
        HashTree(b"\x00" * 33)
    with pytest.raises(ValueError):
        HashTree([b"short"])
    with pytest.raises(ValueError):
        HashTree(items, "md5")
    with pytest.raises(IndexError):
        HashTree(items).reduced(5)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data(), st.sampled_from(["sha256", "sha384", "sha512"]))
def test_any_leaf_of_any_tree_leads_to_the_root(n, data, hash_name):
    items = [hashlib.new(hash_name, i.to_bytes(4, "big")).digest() for i in range(n)]
    tree = HashTree(items, hash_name)
    index = data.draw(st.integers(0, n - 1))
    reduced = tree.reduced(index)
    assert root_of(items[index], reduced, hash_name) == tree.root
    encoded = PartialHashtrees([list(g) for g in reduced]).dump()
    if reduced:  # contents only: compare with asn1crypto's encoding minus tag and length
        parsed = PartialHashtrees.load(encoded)
        assert parsed.contents == tree.reduced_der(index)
    stranger = hashlib.new(hash_name, b"not a leaf").digest()
    if reduced:
        assert root_of(stranger, reduced, hash_name) is None


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 200), st.data())
def test_a_changed_bit_in_the_path_changes_the_root(n, data):
    items = leaves(n, seed=1)
    tree = HashTree(items)
    index = data.draw(st.integers(0, n - 1))
    reduced = [list(g) for g in tree.reduced(index)]
    level = data.draw(st.integers(0, len(reduced) - 1))
    pos = data.draw(st.integers(0, len(reduced[level]) - 1))
    bit = data.draw(st.integers(0, 255))
    value = bytearray(reduced[level][pos])
    value[bit // 8] ^= 1 << (bit % 8)
    reduced[level][pos] = bytes(value)
    assert root_of(items[index], reduced) != tree.root
