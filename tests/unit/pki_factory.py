"""Build small PKIs with the pure ``keiin.pki`` builders (no Django), for tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509

from keiin.pki import profiles
from keiin.pki.keys import KeyAlgorithm, PrivateKey, generate_private_key
from keiin.pki.profiles import Issuer, PublicUrls, SubjectInfo

BASE_URL = "https://keiin.example.jp/"
URLS = PublicUrls(BASE_URL)


@dataclass(frozen=True)
class Pki:
    """Root, issuing CA and the three kinds of end-entity certificate, with their keys."""

    root: Issuer
    issuing: Issuer
    tsa: x509.Certificate
    tsa_key: PrivateKey
    ocsp: x509.Certificate
    ocsp_key: PrivateKey
    signer: x509.Certificate
    signer_key: PrivateKey


def build_pki(algorithm: KeyAlgorithm, *, org: str = "Example KK") -> Pki:
    """Build a complete hierarchy the way ``keiin init`` lays it out."""
    root_key = generate_private_key(algorithm)
    root_cert = profiles.build_root_ca(SubjectInfo(f"{org} Root CA", org), root_key)
    root = Issuer(root_cert, root_key, "root-ca-1")
    issuing_key = generate_private_key(algorithm)
    issuing_cert = profiles.build_issuing_ca(
        SubjectInfo(f"{org} Issuing CA", org), issuing_key.public_key(), root, URLS
    )
    issuing = Issuer(issuing_cert, issuing_key, "issuing-ca-1")
    # End entities use EC keys even under an RSA hierarchy, to keep the suite fast.
    tsa_key = generate_private_key(KeyAlgorithm.EC_P256)
    tsa = profiles.build_tsa(SubjectInfo(f"{org} TSU 1", org), tsa_key.public_key(), root, URLS)
    ocsp_key = generate_private_key(KeyAlgorithm.EC_P256)
    ocsp = profiles.build_ocsp_responder(
        SubjectInfo(f"{org} Issuing CA OCSP Responder", org),
        ocsp_key.public_key(),
        issuing,
        URLS,
        validity=dt.timedelta(days=90),
    )
    signer_key = generate_private_key(KeyAlgorithm.EC_P256)
    signer = profiles.build_signer(
        SubjectInfo("山田 太郎", "Example KK", email="taro.yamada@example.jp"),
        signer_key.public_key(),
        issuing,
        URLS,
    )
    return Pki(root, issuing, tsa, tsa_key, ocsp, ocsp_key, signer, signer_key)
