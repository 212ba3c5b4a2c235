"""Helpers shared by the ``test_tsa_*`` modules: a throwaway PKI with TSA units of each key
type, OpenSSL wrappers and token surgery. No tests here; everything is built once per session
(``functools.cache``) with the pure ``keiin.pki`` builders."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from keiin.pki import profiles
from keiin.pki.keys import KeyAlgorithm, PrivateKey, generate_private_key
from keiin.pki.profiles import Issuer, SubjectInfo
from keiin.tsa.request import TimeStampRequest
from keiin.tsa.template import DEFAULT_TSA_POLICY_OID, TokenFactory, TsaProfile, token_of
from tests.unit.pki_factory import URLS, Pki, build_pki

#: A second policy the test TSA accepts on request.
ALT_POLICY = "1.2.392.200091.99.3161.2"
POLICIES = (DEFAULT_TSA_POLICY_OID, ALT_POLICY)


@dataclass(frozen=True)
class Unit:
    """One time-stamping unit: its PKI, key, certificate and token factory."""

    pki: Pki
    issuer: Issuer  # the root that issued the TSA certificate
    key: PrivateKey
    cert: x509.Certificate
    factory: TokenFactory

    @property
    def root(self) -> x509.Certificate:
        return self.issuer.certificate


@functools.cache
def ec_pki() -> Pki:
    return build_pki(KeyAlgorithm.EC_P256, org="TSA Test KK")


def make_unit(
    algorithm: KeyAlgorithm = KeyAlgorithm.EC_P256,
    *,
    pki: Pki | None = None,
    issuer: Issuer | None = None,
    now: dt.datetime | None = None,
    validity: dt.timedelta = dt.timedelta(days=365 * 10),
    **profile_options: object,
) -> Unit:
    """A TSA unit with a fresh certificate under ``pki``'s root (the session PKI by default)."""
    pki = pki or ec_pki()
    issuer = issuer or pki.root
    if algorithm is KeyAlgorithm.EC_P256 and now is None and issuer is ec_pki().root:
        key, cert = pki.tsa_key, pki.tsa
    else:
        key = generate_private_key(algorithm)
        cert = profiles.build_tsa(
            SubjectInfo(f"TSU {algorithm.value}", "TSA Test KK"),
            key.public_key(),
            issuer,
            URLS,
            now=now,
            validity=validity,
        )
    options = {"policies": POLICIES, "chain": (issuer.certificate,), **profile_options}
    factory = TokenFactory(TsaProfile(cert, key, **options))  # type: ignore[arg-type]
    return Unit(pki, issuer, key, cert, factory)


def old_root(age: dt.timedelta, name: str = "Old Root") -> Issuer:
    """A root CA issued ``age`` ago (for certificates and tokens dated in the past)."""
    key = generate_private_key(KeyAlgorithm.EC_P256)
    cert = profiles.build_root_ca(
        SubjectInfo(name, "Old KK"), key, now=dt.datetime.now(dt.UTC) - age
    )
    return Issuer(cert, key, "old-root")


@functools.cache
def ec_unit() -> Unit:
    return make_unit(KeyAlgorithm.EC_P256)


@functools.cache
def p384_unit() -> Unit:
    return make_unit(KeyAlgorithm.EC_P384)


@functools.cache
def rsa_unit() -> Unit:
    return make_unit(KeyAlgorithm.RSA_3072)


def request(
    digest: bytes = b"\x11" * 32,
    *,
    hash_algorithm: str = "sha256",
    nonce: int | None = 1234567,
    cert_req: bool = True,
    policy: str | None = None,
) -> TimeStampRequest:
    return TimeStampRequest(hash_algorithm, digest, policy, nonce, cert_req)


def grant(unit: Unit, req: TimeStampRequest, gen_time: dt.datetime | None = None) -> bytes:
    return unit.factory.grant(
        req, serial=secrets.randbits(127) | 1, gen_time=gen_time or dt.datetime.now(dt.UTC)
    )


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def openssl(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=30,
    )


def openssl_query(tmp: Path, data: bytes, *options: str, name: str = "q.tsq") -> bytes:
    """``openssl ts -query -data F <options>``: the request bytes."""
    (tmp / "data.bin").write_bytes(data)
    out = tmp / name
    result = openssl("ts", "-query", "-data", tmp / "data.bin", *options, "-out", out)
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def tst_info(response: bytes) -> tsp.TSTInfo:
    return signed_data(response)["encap_content_info"]["content"].parsed


def signed_data(response: bytes) -> cms.SignedData:
    return cms.ContentInfo.load(token_of(response))["content"]
