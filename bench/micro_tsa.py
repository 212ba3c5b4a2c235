"""Micro-benchmark: tokens per second of the DER template vs an asn1crypto build (one core).

    .venv/bin/python bench/micro_tsa.py [--seconds 3]

Both builders produce the same token (EC P-256 TSA key, SHA-256 imprint, nonce, certReq) and
pay for the same ECDSA signature; the difference is the encoding. Also times request parsing
(fast path vs asn1crypto alone) and a bare ECDSA signature, the floor for any builder. Not part
of ``./run bench`` (no HTTP); run it by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Callable

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as ax509
from cryptography.hazmat.primitives import serialization

from keiin.pki import profiles
from keiin.pki.keys import KeyAlgorithm, generate_private_key, sign_bytes, signature_algorithm_name
from keiin.pki.profiles import Issuer, PublicUrls, SubjectInfo
from keiin.tsa.request import parse_request, parse_request_asn1
from keiin.tsa.template import TokenFactory, TsaProfile


def tsa_profile() -> TsaProfile:
    """A throwaway root and TSA certificate, EC P-256."""
    root_key = generate_private_key(KeyAlgorithm.EC_P256)
    root_cert = profiles.build_root_ca(SubjectInfo("Bench Root CA", "Bench KK"), root_key)
    root = Issuer(root_cert, root_key, "bench-root")
    key = generate_private_key(KeyAlgorithm.EC_P256)
    cert = profiles.build_tsa(
        SubjectInfo("Bench TSU 1", "Bench KK"),
        key.public_key(),
        root,
        PublicUrls("https://keiin.example.jp"),
    )
    return TsaProfile(cert, key)


class Asn1cryptoTokens:
    """The same token as :class:`TokenFactory`, built with asn1crypto objects per request.

    ``reuse_static``: the careful way — the certificate, names and the signingCertificateV2
    attribute are encoded once and re-loaded from bytes per request (asn1crypto copies a
    parsed object deeply when it is put into a new structure, and re-encodes nested values
    many times over, so building them afresh is what costs most).
    """

    def __init__(self, profile: TsaProfile, *, reuse_static: bool = False) -> None:
        self.profile = profile
        self.reuse_static = reuse_static
        self.cert_der = profile.certificate.public_bytes(serialization.Encoding.DER)
        self.cert = ax509.Certificate.load(self.cert_der)
        self.subject_der = self.cert.subject.dump()
        self.issuer_der = self.cert.issuer.dump()
        self.cert_hash = hashlib.sha256(self.cert_der).digest()
        self.sig_alg = signature_algorithm_name(profile.key)
        self.signing_cert_der = self._signing_certificate().dump()

    def _signing_certificate(self) -> cms.CMSAttribute:
        name = ax509.Name.load(self.issuer_der)
        ess = {
            "cert_hash": self.cert_hash,
            "issuer_serial": {
                "issuer": [ax509.GeneralName(name="directory_name", value=name)],
                "serial_number": self.cert.serial_number,
            },
        }
        return cms.CMSAttribute({"type": "signing_certificate_v2", "values": [{"certs": [ess]}]})

    def grant(self, request, *, serial: int, gen_time: dt.datetime) -> bytes:
        p = self.profile
        if self.reuse_static:
            subject = ax509.Name.load(self.subject_der)
            issuer = ax509.Name.load(self.issuer_der)
            cert = ax509.Certificate.load(self.cert_der)
            signing_cert = cms.CMSAttribute.load(self.signing_cert_der)
        else:
            subject, issuer, cert = self.cert.subject, self.cert.issuer, self.cert
            signing_cert = self._signing_certificate()
        info = {
            "version": "v1",
            "policy": p.policies[0],
            "message_imprint": {
                "hash_algorithm": {"algorithm": request.hash_algorithm},
                "hashed_message": request.digest,
            },
            "serial_number": serial,
            "gen_time": gen_time.replace(microsecond=gen_time.microsecond // 1000 * 1000),
            "accuracy": {"seconds": p.accuracy_seconds},
            "tsa": ax509.GeneralName(name="directory_name", value=subject),
        }
        if request.nonce is not None:
            info["nonce"] = request.nonce
        tst_der = tsp.TSTInfo(info).dump()
        attrs = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]},
                signing_cert,
            ]
        )
        signature = sign_bytes(p.key, attrs.dump())
        signer = {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": issuer, "serial_number": self.cert.serial_number},
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": attrs,
            "signature_algorithm": {"algorithm": self.sig_alg},
            "signature": signature,
        }
        signed = {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(tst_der),
            },
            "signer_infos": [signer],
        }
        if request.cert_req:
            signed["certificates"] = [cert]
        return tsp.TimeStampResp(
            {
                "status": {"status": "granted"},
                "time_stamp_token": {"content_type": "signed_data", "content": signed},
            }
        ).dump()


def rate(label: str, work: Callable[[], object], seconds: float, rounds: int = 5) -> float:
    """Calls per second of ``work``: the best of ``rounds`` runs (the machine is shared, so
    the best run is the one least disturbed by other processes)."""
    work()  # warm up
    best = 0.0
    for _ in range(rounds):
        count = 0
        start = time.perf_counter()
        deadline = start + seconds / rounds
        while time.perf_counter() < deadline:
            for _ in range(20):
                work()
            count += 20
        best = max(best, count / (time.perf_counter() - start))
    print(f"  {label:<44} {best:>10,.0f} /s   {1e6 / best:8.1f} µs")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per figure (default 3)")
    args = parser.parse_args()

    profile = tsa_profile()
    template = TokenFactory(profile)
    naive = Asn1cryptoTokens(profile)
    careful = Asn1cryptoTokens(profile, reuse_static=True)
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(b"contract").digest(),
            },
            "nonce": secrets.randbits(64),
            "cert_req": True,
        }
    ).dump()
    request = parse_request(query)
    now = dt.datetime.now(dt.UTC)

    print("TSA micro-benchmark, EC P-256 key, one core (single thread)")
    sign_only = rate(
        "ECDSA P-256 signature alone (floor)", lambda: sign_bytes(profile.key, query), args.seconds
    )
    fast = rate(
        "TokenFactory.grant (DER template)",
        lambda: template.grant(request, serial=secrets.randbits(127), gen_time=now),
        args.seconds,
    )
    slow = rate(
        "asn1crypto, everything built per request",
        lambda: naive.grant(request, serial=secrets.randbits(127), gen_time=now),
        args.seconds,
    )
    better = rate(
        "asn1crypto, static parts loaded from bytes",
        lambda: careful.grant(request, serial=secrets.randbits(127), gen_time=now),
        args.seconds,
    )
    parse_fast = rate("parse_request (fast path)", lambda: parse_request(query), args.seconds)
    parse_slow = rate(
        "parse_request_asn1 (asn1crypto)", lambda: parse_request_asn1(query), args.seconds
    )
    print(
        f"  template / asn1crypto: {fast / slow:.0f}x (naive), {fast / better:.0f}x (careful); "
        f"the template reaches {fast / sign_only:.0%} of the bare-signature rate"
    )
    print(f"  parse fast path / asn1crypto: {parse_fast / parse_slow:.1f}x")


if __name__ == "__main__":
    main()
