"""Baseline (b) of the TSA benchmark: certomancer's Python TSA, served over HTTP by granian (WSGI).

certomancer (PyPI, by the pyHanko author) is a PKI test tool whose "Animator" is a WSGI
application answering RFC 3161 requests at ``POST /<arch>/tsa/<label>`` with a TimeStampResp
built from asn1crypto objects and signed through ``cryptography``. It is a test tool, not a
product TSA: no authentication, no issuance log, no clock check; its tokens carry
signingCertificate (v1, SHA-1 ESSCertID) and signingTime, and always the TSA certificate.

``bench_tsa.py`` writes a configuration with :func:`write_config` (root CA and TSA, both
EC P-256 like Keiin's default TSA key, signature SHA-256) and serves this module's ``app`` with
``keiin serve``'s granian options, ``--interface wsgi``. The path is :data:`TSA_PATH`.

    BENCH_CERTOMANCER_CONFIG=/tmp/x/certomancer.yml granian --interface wsgi certomancer_tsa:app
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ARCH = "bench"
TSA_LABEL = "tsa"
TSA_PATH = f"/{ARCH}/tsa/{TSA_LABEL}"

_CONFIG = """\
external-url-prefix: "http://127.0.0.1"
keysets:
  bench:
    keys:
      root:
        path: root.key.pem
      tsa:
        path: tsa.key.pem
pki-architectures:
  bench:
    keyset: bench
    entity-defaults:
      country-name: JP
      organization-name: Certomancer Bench
    entities:
      root:
        common-name: Certomancer Bench Root CA
      tsa:
        common-name: Certomancer Bench TSA
    certs:
      root:
        subject: root
        issuer: root
        validity:
          valid-from: "2020-01-01T00:00:00+0000"
          valid-to: "2100-01-01T00:00:00+0000"
        extensions:
          - id: basic_constraints
            critical: true
            value:
              ca: true
          - id: key_usage
            critical: true
            smart-value:
              schema: key-usage
              params: [digital_signature, key_cert_sign, crl_sign]
      tsa:
        issuer: root
        validity:
          valid-from: "2020-01-01T00:00:00+0000"
          valid-to: "2100-01-01T00:00:00+0000"
        extensions:
          - id: key_usage
            critical: true
            smart-value:
              schema: key-usage
              params: [digital_signature]
          - id: extended_key_usage
            critical: true
            value: [time_stamping]
    services:
      time-stamping:
        tsa:
          signing-key: tsa
          signing-cert: tsa
"""


def write_config(folder: Path) -> Path:
    """Write an EC P-256 root and TSA key and the certomancer configuration; return its path."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("root", "tsa"):
        key = ec.generate_private_key(ec.SECP256R1())
        path = folder / f"{name}.key.pem"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
    config = folder / "certomancer.yml"
    config.write_text(_CONFIG)
    return config


def root_certificate_pem(config: Path) -> bytes:
    """The PEM root certificate of the architecture (to verify certomancer's tokens)."""
    from asn1crypto import pem

    arch = _load(config)
    return pem.armor("CERTIFICATE", arch.get_cert("root").dump())


def _load(config: Path) -> Any:
    from certomancer.registry import ArchLabel, CertomancerConfig

    cfg = CertomancerConfig.from_file(
        str(config), key_search_dir=str(config.parent), allow_external_config=False
    )
    return cfg.get_pki_arch(ArchLabel(ARCH))


def _animator() -> Any:
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import ArchLabel

    arch = _load(Path(os.environ["BENCH_CERTOMANCER_CONFIG"]))
    # No web UI and no time override header: the TSA service only, at the current time.
    return Animator(
        AnimatorArchStore({ArchLabel(ARCH): arch}), with_web_ui=False, allow_time_override=False
    )


if "BENCH_CERTOMANCER_CONFIG" in os.environ:
    app = _animator()
