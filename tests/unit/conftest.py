"""A small PKI built once per session with the pure ``keiin.pki`` builders (no Django)."""

from __future__ import annotations

import pytest

from keiin.pki.keys import KeyAlgorithm
from tests.unit.pki_factory import Pki, build_pki


@pytest.fixture(scope="session")
def pki() -> Pki:
    """An ECDSA P-256 hierarchy (the default)."""
    return build_pki(KeyAlgorithm.EC_P256)


@pytest.fixture(scope="session")
def other_pki() -> Pki:
    """A second, unrelated hierarchy (a "foreign" CA)."""
    return build_pki(KeyAlgorithm.EC_P256, org="Other Corp")


@pytest.fixture(scope="session")
def rsa_pki() -> Pki:
    """An RSA-3072 root and issuing CA (slow to generate: built once)."""
    return build_pki(KeyAlgorithm.RSA_3072)
