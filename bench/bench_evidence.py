"""Evidence-record renewal of 1,000,000 originals against one document timestamp each.

    ./run bench --only evidence

Subject (timed): build the RFC 4998 hash tree over 1,000,000 SHA-256 leaf digests
(precomputed, not timed), get one archive timestamp for the root from Keiin's in-process TSA
token factory (:class:`keiin.tsa.template.TokenFactory`), and encode every original's DER
evidence record (its reduced hash tree spliced into the shared record).

Baseline (same run): one document timestamp per original, i.e. one token per original from
the same in-process token factory, over ``BASELINE_TOKENS`` tokens and *extrapolated* to
1,000,000. It leaves out the HTTP round trip and the issuance log, so the real per-original
cost is higher: the ratio is a lower bound. Goal: the million renewed in under 60 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import secrets
import time

from harness import Result, say

from keiin.evidence.archive import Archive
from keiin.evidence.verify import verify_evidence
from keiin.pki import profiles
from keiin.pki.keys import KeyAlgorithm, generate_private_key
from keiin.pki.profiles import Issuer, PublicUrls, SubjectInfo
from keiin.tsa.request import TimeStampRequest
from keiin.tsa.template import TokenFactory, TsaProfile, token_of

ORIGINALS = 1_000_000
QUICK_ORIGINALS = 100_000
BASELINE_TOKENS = 2_000
GOAL_SECONDS = 60.0


def _tsa() -> tuple[TokenFactory, Issuer]:
    root_key = generate_private_key(KeyAlgorithm.EC_P256)
    root_cert = profiles.build_root_ca(SubjectInfo("Bench Root CA", "Bench KK"), root_key)
    root = Issuer(root_cert, root_key, "bench-root")
    key = generate_private_key(KeyAlgorithm.EC_P256)
    cert = profiles.build_tsa(
        SubjectInfo("Bench TSU", "Bench KK"), key.public_key(), root, PublicUrls("https://b/")
    )
    return TokenFactory(TsaProfile(cert, key)), root


def run(args: argparse.Namespace) -> list[Result]:
    originals = QUICK_ORIGINALS if getattr(args, "quick", False) else ORIGINALS
    factory, root = _tsa()

    def timestamp(digest: bytes) -> bytes:
        req = TimeStampRequest("sha256", digest, None, secrets.randbits(63), True)
        serial = secrets.randbits(127) | 1
        return token_of(factory.grant(req, serial=serial, gen_time=dt.datetime.now(dt.UTC)))

    say(f"evidence: {originals:,} leaf digests (precomputed, not timed)")
    leaves = b"".join(hashlib.sha256(os.urandom(16)).digest() for _ in range(originals))

    started = time.perf_counter()
    archive = Archive.seal(leaves, timestamp)
    sealed = time.perf_counter()
    total_bytes = 0
    for record in archive.records():
        total_bytes += len(record)
    subject = time.perf_counter() - started
    tree_seconds = sealed - started
    say(
        f"evidence: tree + root timestamp {tree_seconds:.2f}s, records "
        f"{subject - tree_seconds:.2f}s, {total_bytes / originals:,.0f} bytes per record"
    )

    # What is stored beside each original if the shared chain is stored once per archive.
    started = time.perf_counter()
    reduced = archive.tree.reduced_der
    path_bytes = sum(len(reduced(i)) for i in range(originals))
    paths_seconds = time.perf_counter() - started
    say(
        f"evidence: reduced hash trees alone {paths_seconds:.2f}s, "
        f"{path_bytes / originals:,.0f} bytes per original"
    )

    # Check one record end to end, so the figure is for records that verify.
    index = originals // 3
    report = verify_evidence(
        archive.record(index),
        digests={"sha256": leaves[index * 32 : (index + 1) * 32]},
        trust_roots=[root.certificate],
        check_revocation=False,
        fetch=False,
    )
    if not report.ok:
        raise RuntimeError(f"the benchmark's own record does not verify: {report.reason}")

    started = time.perf_counter()
    for i in range(BASELINE_TOKENS):
        timestamp(leaves[i * 32 : (i + 1) * 32])
    per_token = (time.perf_counter() - started) / BASELINE_TOKENS
    baseline = per_token * originals
    say(
        f"evidence: one token per original {per_token * 1e6:.0f} us (in-process factory, "
        f"{BASELINE_TOKENS:,} tokens) -> {baseline:.0f}s for {originals:,} (extrapolated)"
    )
    # Figures are "renewals per second" so that a ratio >= goal means "better".
    rate = originals / subject
    baseline_rate = originals / baseline
    return [
        Result(
            name=f"evidence renewal {originals:,}",
            figure=rate,
            unit="originals/s",
            baseline=baseline_rate,
            goal=None,
            details={
                "seconds": subject,
                "tree_and_timestamp_seconds": tree_seconds,
                "records_seconds": subject - tree_seconds,
                "record_bytes_avg": total_bytes / originals,
                "reduced_trees_only_seconds": paths_seconds,
                "reduced_tree_bytes_avg": path_bytes / originals,
                "baseline_seconds_extrapolated": baseline,
                "baseline_us_per_token": per_token * 1e6,
                "baseline_tokens_measured": BASELINE_TOKENS,
                "goal_seconds": GOAL_SECONDS * originals / ORIGINALS,
            },
        ),
        Result(
            name="evidence renewal under 60 s",
            figure=GOAL_SECONDS * originals / ORIGINALS / subject,
            unit="x headroom",
            baseline=1.0,
            goal=1.0,
            details={"seconds": subject},
        ),
    ]
