"""PAdES B-LTA signatures of 1 MB, 10 MB and 100 MB PDFs: Keiin beside plain pyHanko, same run.

Both sides sign the same unsigned PDFs with the same key and certificate (issued by ``keiin ca
issue`` on a temporary home) and end with a B-LTA file: signature with timestamp, DSS with
revocation data, document timestamp. Neither side pays the Argon2 PIN step (both use the
plain key).

* **Keiin** — :func:`keiin.pdf.signing.approve_file` (path to path) with Keiin's in-process
  TSA (:func:`keiin.web.signing.keiin_timestamper`: every token committed to the issuance log
  first) and Keiin's CA as revocation source (:class:`keiin.web.signing.CaRevocationSource`),
  in a process set up like a ``keiin serve`` worker (Django, the same SQLite home).
* **plain pyHanko** — ``PdfSigner`` with ``embed_validation_info=True, use_pades_lta=True``,
  an ``HTTPTimeStamper`` to the running server's ``POST /tsa`` (HTTP Basic, a TSA account) and
  a ``ValidationContext`` that fetches OCSP responses and CRLs from the URLs in the
  certificates (the same server's ``/ocsp`` and ``/crl``); input read from the file, output
  written to a readable and seekable file (``w+b``, pyHanko's best case: it signs in place).

Each side runs in its own subprocess per block (plain, Keiin, Keiin, plain), so memory is
measured per side: after one unmeasured warm-up signature of a small PDF, the resident set's
high-water mark is reset (``/proc/self/clear_refs``) and the growth over the resident set
before one signature of the big file is its **peak memory**. Then the timed rounds follow;
each figure is the median of its side's rounds, the ratio the median of the per-block ratios.
Goals (issue 5): 1 MB in under 100 ms, at least 3x faster than plain pyHanko, and peak memory
under 2x the file size. The memory rows' ratio is that limit divided by Keiin's peak (≥ 1:
within it). Before measuring, Keiin's 1 MB result passes the shared ``pades-check.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import (
    BENCH_DIR,
    KEIIN,
    BenchError,
    Result,
    Services,
    free_port,
    run_with_services,
    say,
    start_keiin,
    wait_idle,
)

MB = 1000 * 1000
SIZES_MB = (1, 10, 100)
GOAL_SPEEDUP = 3.0
GOAL_MS_1MB = 100.0
MEMORY_LIMIT_FACTOR = 2.0
#: Subprocesses per side and size, in the order plain, Keiin, Keiin, plain.
BLOCKS = 2
FIELD = "Signature1"
PADES_CHECK = BENCH_DIR.parent.parent / "shared" / "checks" / "pades-check.py"
CLOCK_NOTE = (
    "clock: KEIIN_NTP_SERVERS=none KEIIN_TSA_ALLOW_UNCHECKED_CLOCK=1 (no NTP server reachable "
    "here; the clock guard runs but has no offset to check)"
)


def run(args: argparse.Namespace) -> list[Result]:
    return run_with_services(
        "keiin-bench-pades-", lambda tmp, services: _run(args.rounds, args.workers, tmp, services)
    )


def rounds_per_block(rounds: int, size_mb: int) -> int:
    """Timed signatures per subprocess: ``--rounds`` (10; --quick 2) for up to 10 MB, half of
    it for 100 MB, and at least 3 (2 for 100 MB) so a quick run still has a median."""
    if size_mb >= 100:
        return max(2, rounds // 2)
    return max(3, rounds)


# --------------------------------------------------------------------------- orchestration


def _run(rounds: int, workers: int, tmp: Path, services: Services) -> list[Result]:
    """Set up a home and a server, then measure both sides for each size."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    home = tmp / "home"
    env = _keiin_env(home, url)
    say(CLOCK_NOTE)
    say("creating a Keiin home, a TSA account and a signer certificate")
    user, password = "bench-pades", secrets.token_urlsafe(18)
    # "--option=value": a random password may start with "-", which argparse would take for
    # an option if it stood on its own.
    _cli(env, "init", f"--admin-password={secrets.token_urlsafe(16)}")
    _cli(env, "tsa", "account", "create", "--user", user, f"--password={password}")
    cert, key, chain, root = (tmp / n for n in ("cert.pem", "key.pem", "chain.pem", "root.pem"))
    _cli(
        env,
        *("ca", "issue", "--cn", "Bench Signatory", "--email", "bench@example.jp"),
        *("--org", "Bench K.K."),
        *("--out-cert", str(cert), "--out-key", str(key), "--out-chain", str(chain)),
    )
    chain_pem = chain.read_text()
    root.write_text(chain_pem[chain_pem.rindex("-----BEGIN CERTIFICATE-----") :])
    config = tmp / "config.json"
    config.write_text(
        json.dumps(
            {
                "env": {k: v for k, v in env.items() if k.startswith("KEIIN_")},
                "url": url,
                "tsa_user": user,
                "tsa_password": password,
                "cert": str(cert),
                "key": str(key),
                "chain": str(chain),
                "root": str(root),
            }
        )
    )
    say(f"starting keiin serve on {url} ({workers} workers)")
    server, _log = start_keiin(services, port, workers, env, tmp)
    wait_idle(server)  # start-up work (CRLs, responder certificates) is not measured

    small = tmp / "warm-up.pdf"
    write_pdf(small, 64 * 1000)
    results: list[Result] = []
    checked = False
    for size_mb in SIZES_MB:
        pdf = tmp / f"in-{size_mb}mb.pdf"
        say(f"--- {size_mb} MB: writing the PDF")
        size = write_pdf(pdf, size_mb * MB)
        if not checked:
            _pades_check(config, pdf, root, tmp)
            checked = True
        runs: dict[str, list[dict[str, Any]]] = {"keiin": [], "pyhanko": []}
        order = ["pyhanko", "keiin", "keiin", "pyhanko"][: 2 * BLOCKS]
        for side in order:
            measured = _worker_run(
                side, config, pdf, small, rounds_per_block(rounds, size_mb), tmp, services
            )
            wait_idle(server)
            runs[side].append(measured)
            say(
                f"{size_mb:>3} MB {side:<8} median {statistics.median(measured['ms']):8.1f} ms"
                f"  peak +{measured['peak_kib'] / 1024:7.1f} MiB  rounds {len(measured['ms'])}"
            )
        pdf.unlink()
        results.extend(_results(size_mb, size, runs))
    _summary(results)
    return results


def _worker_run(
    side: str,
    config: Path,
    pdf: Path,
    small: Path,
    rounds: int,
    tmp: Path,
    services: Services,
) -> dict[str, Any]:
    out_dir = tmp / f"out-{side}"
    out_dir.mkdir(exist_ok=True)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--side",
        side,
        "--config",
        str(config),
        "--pdf",
        str(pdf),
        "--warm-up",
        str(small),
        "--rounds",
        str(rounds),
        "--out-dir",
        str(out_dir),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    services.check_alive()
    line = next((x for x in done.stdout.splitlines() if x.startswith("PADES-RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"the {side} worker failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(line.removeprefix("PADES-RESULT "))


def _results(size_mb: int, size: int, runs: dict[str, list[dict[str, Any]]]) -> list[Result]:
    keiin_ms = [t for r in runs["keiin"] for t in r["ms"]]
    plain_ms = [t for r in runs["pyhanko"] for t in r["ms"]]
    keiin_median, plain_median = statistics.median(keiin_ms), statistics.median(plain_ms)
    # Block i pairs the i-th plain run with the i-th Keiin run: adjacent in time (P K K P).
    ratios = [
        statistics.median(p["ms"]) / statistics.median(k["ms"])
        for p, k in zip(runs["pyhanko"], runs["keiin"], strict=True)
    ]
    keiin_peak = max(r["peak_kib"] for r in runs["keiin"]) * 1024
    plain_peak = max(r["peak_kib"] for r in runs["pyhanko"]) * 1024
    limit = MEMORY_LIMIT_FACTOR * size
    details = {
        "p50_ms": keiin_median,
        "baseline_p50_ms": plain_median,
        "keiin_ms": [round(t, 1) for t in keiin_ms],
        "pyhanko_ms": [round(t, 1) for t in plain_ms],
        "round_ratios": [round(x, 3) for x in ratios],
        "file_bytes": size,
        "keiin_peak_bytes": keiin_peak,
        "pyhanko_peak_bytes": plain_peak,
        "keiin_baseline_rss_kib": max(r["baseline_kib"] for r in runs["keiin"]),
        "pyhanko_baseline_rss_kib": max(r["baseline_kib"] for r in runs["pyhanko"]),
        "signed_bytes": {side: r[0]["signed_bytes"] for side, r in runs.items()},
        "clock": CLOCK_NOTE,
    }
    rows = [
        Result(
            name=f"pades {size_mb} MB vs pyHanko",
            figure=1000 / keiin_median,
            unit="signatures/s",
            baseline=1000 / plain_median,
            goal=GOAL_SPEEDUP,
            paired_ratio=statistics.median(ratios),
            details=details,
        ),
        Result(
            name=f"pades {size_mb} MB peak memory",
            figure=keiin_peak / MB,
            unit="MB",
            baseline=plain_peak / MB,
            goal=1.0,
            paired_ratio=limit / max(keiin_peak, 1),
            details={
                "limit_bytes": limit,
                "file_bytes": size,
                "keiin_peak_bytes": keiin_peak,
                "pyhanko_peak_bytes": plain_peak,
                "keiin_peaks_bytes": [r["peak_kib"] * 1024 for r in runs["keiin"]],
                "pyhanko_peaks_bytes": [r["peak_kib"] * 1024 for r in runs["pyhanko"]],
            },
        ),
    ]
    if size_mb == 1:
        rows.append(
            Result(
                name="pades 1 MB vs 100 ms goal",
                figure=1000 / keiin_median,
                unit="signatures/s",
                baseline=1000 / GOAL_MS_1MB,
                goal=1.0,
                details={"p50_ms": keiin_median},
            )
        )
    return rows


def _summary(results: list[Result]) -> None:
    """One line per size, above run.py's table."""
    for r in results:
        if not r.name.endswith("vs pyHanko"):
            continue
        d = r.details
        size = d["file_bytes"]
        keiin_peak, plain_peak = d["keiin_peak_bytes"], d["pyhanko_peak_bytes"]
        within = keiin_peak < MEMORY_LIMIT_FACTOR * size
        print(
            f"{r.name.removesuffix(' vs pyHanko')}: Keiin {d['p50_ms']:.1f} ms, plain pyHanko "
            f"{d['baseline_p50_ms']:.1f} ms ({r.ratio or 0:.1f}x, goal >= {GOAL_SPEEDUP:.0f}x: "
            f"{'OK' if (r.ratio or 0) >= GOAL_SPEEDUP else 'BELOW GOAL'}); peak memory Keiin "
            f"+{keiin_peak / MB:.1f} MB, pyHanko +{plain_peak / MB:.1f} MB "
            f"({keiin_peak / size:.2f}x the file, goal < {MEMORY_LIMIT_FACTOR:.0f}x: "
            f"{'OK' if within else 'ABOVE LIMIT'})",
            flush=True,
        )
    print(f"  {CLOCK_NOTE}; Argon2 PIN step excluded on both sides", flush=True)


def _pades_check(config: Path, pdf: Path, root: Path, tmp: Path) -> None:
    """Keiin's output for ``pdf`` must pass the shared acceptance check."""
    if not PADES_CHECK.exists():
        say(f"{PADES_CHECK} not present: output not checked")
        return
    out_dir = tmp / "check"
    out_dir.mkdir()
    _worker_run_check(config, pdf, out_dir)
    signed = out_dir / "signed.pdf"
    done = subprocess.run(
        [sys.executable, str(PADES_CHECK), str(signed), str(root), "--expect-level", "LTA"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or "0 failed" not in done.stdout:
        raise BenchError(f"Keiin's B-LTA output fails pades-check:\n{done.stdout}{done.stderr}")
    say("Keiin's output passes pades-check.py (" + done.stdout.strip().splitlines()[-1] + ")")


def _worker_run_check(config: Path, pdf: Path, out_dir: Path) -> None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--side", "keiin", "--config"]
    cmd += [str(config), "--pdf", str(pdf), "--warm-up", str(pdf), "--rounds", "0"]
    cmd += ["--out-dir", str(out_dir), "--keep"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise BenchError(f"the keiin worker failed ({done.returncode}):\n{done.stderr[-3000:]}")


def _keiin_env(home: Path, base_url: str) -> dict[str, str]:
    """A clean environment: SQLite in the temporary home, nothing from the caller's Keiin."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KEIIN_") and k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        {
            "KEIIN_HOME": str(home),
            "KEIIN_BASE_URL": base_url,
            "KEIIN_MAIL": "outbox",
            "KEIIN_NTP_SERVERS": "none",
            "KEIIN_TSA_ALLOW_UNCHECKED_CLOCK": "1",
        }
    )
    return env


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([*KEIIN, *args], env=env, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise BenchError(f"keiin {' '.join(args[:3])} failed ({done.returncode}):\n{done.stderr}")


def write_pdf(path: Path, size: int, *, seed: int = 5) -> int:
    """A one-page PDF of about ``size`` bytes: one grey image of random (incompressible)
    samples, written in 1 MiB chunks. Returns the file size."""
    width = 1000
    height = max(1, size // width)
    rng = random.Random(seed)
    offsets: list[int] = []
    with path.open("wb") as out:
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>",
        ]
        for number, body in enumerate(objects, start=1):
            offsets.append(out.tell())
            out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
        content = b"q 495 0 0 700 50 100 cm /Im1 Do Q"
        offsets.append(out.tell())
        out.write(
            b"4 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n"
            % (
                len(content),
                content,
            )
        )
        offsets.append(out.tell())
        length = width * height
        out.write(
            b"5 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d "
            b"/ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n"
            % (width, height, length)
        )
        left = length
        while left:
            step = min(1 << 20, left)
            out.write(rng.randbytes(step))
            left -= step
        out.write(b"\nendstream\nendobj\n")
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        for offset in offsets:
            out.write(b"%010d 00000 n \n" % offset)
        out.write(
            b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(offsets) + 1, xref)
        )
        return out.tell()


# --------------------------------------------------------------------------- workers


def _kib(field: str) -> int:
    with Path("/proc/self/status").open() as lines:
        return next(int(line.split()[1]) for line in lines if line.startswith(field))


def _keiin_side(config: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Keiin: approve_file with the in-process TSA and the CA as revocation source."""
    os.environ.update(config["env"])
    os.environ["DJANGO_SETTINGS_MODULE"] = "keiin.web.settings"
    import django

    django.setup()
    from pyhanko.sign.signers import SimpleSigner

    from keiin.pdf.signing import approve_file
    from keiin.web.signing import CaRevocationSource, keiin_timestamper

    signer = SimpleSigner.load(config["key"], config["cert"], ca_chain_files=(config["chain"],))
    if signer is None:
        raise SystemExit("cannot load the signer key and certificate")

    def sign(src: Path, dst: Path) -> None:
        approve_file(
            src,
            dst,
            signer,
            timestamper=keiin_timestamper(),
            revinfo=CaRevocationSource(),
            field_name=FIELD,
            stamp=None,
        )

    return sign


def _pyhanko_side(config: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Plain pyHanko: B-LTA in one call, TSA and revocation data over HTTP."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, SimpleSigner
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko_certvalidator import ValidationContext

    signer = SimpleSigner.load(config["key"], config["cert"], ca_chain_files=(config["chain"],))
    if signer is None:
        raise SystemExit("cannot load the signer key and certificate")
    root = load_cert_from_pemder(config["root"])

    def sign(src: Path, dst: Path) -> None:
        meta = PdfSignatureMetadata(
            field_name=FIELD,
            md_algorithm="sha256",
            subfilter=SigSeedSubFilter.PADES,
            embed_validation_info=True,
            use_pades_lta=True,
            validation_context=ValidationContext(trust_roots=[root], allow_fetching=True),
        )
        timestamper = HTTPTimeStamper(
            config["url"] + "/tsa", auth=(config["tsa_user"], config["tsa_password"])
        )
        with src.open("rb") as source, dst.open("w+b") as out:
            writer = IncrementalPdfFileWriter(source, strict=False)
            PdfSigner(meta, signer, timestamper=timestamper).sign_pdf(writer, output=out)

    return sign


def _check_output(path: Path) -> None:
    """B-LTA shape: one signature, a DSS and a document timestamp. (Plain pyHanko appends a
    second DSS update after its document timestamp; Keiin's timestamp covers the file.)"""
    from pyhanko.pdf_utils.reader import PdfFileReader

    with path.open("rb") as stream:
        reader = PdfFileReader(stream, strict=False)
        if len(reader.embedded_regular_signatures) != 1 or "/DSS" not in reader.root:
            raise SystemExit(f"{path}: not one signature with a DSS")
        if len(reader.embedded_timestamp_signatures) != 1:
            raise SystemExit(f"{path}: no document timestamp")


def worker(argv: list[str]) -> int:
    """One side's measurements for one PDF (runs in its own process)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", choices=("keiin", "pyhanko"), required=True)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--pdf", type=Path, required=True)
    parser.add_argument("--warm-up", type=Path, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--keep", action="store_true", help="keep signed.pdf")
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text())
    sign = _keiin_side(config) if args.side == "keiin" else _pyhanko_side(config)
    out = args.out_dir / "signed.pdf"
    sign(args.warm_up, out)  # imports, caches, connections: not measured
    out.unlink()
    gc.collect()
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current VmRSS
    baseline = _kib("VmRSS:")
    sign(args.pdf, out)
    peak = _kib("VmHWM:")
    _check_output(out)
    signed_bytes = out.stat().st_size
    times: list[float] = []
    for _ in range(args.rounds):
        if not args.keep:
            out.unlink()
        started = time.perf_counter()
        sign(args.pdf, out)
        times.append((time.perf_counter() - started) * 1000)
    if not args.keep:
        out.unlink(missing_ok=True)
    result = {
        "ms": times,
        "baseline_kib": baseline,
        "peak_kib": peak - baseline,
        "signed_bytes": signed_bytes,
    }
    print("PADES-RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(worker(sys.argv[1:]))
