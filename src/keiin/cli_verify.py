"""``keiin verify FILE.pdf``: every signature and document timestamp of a PDF, offline.

Works without a Keiin home when ``--trust ROOT.pem`` is given; without ``--trust``, the root
certificates of the local home (``--home`` / ``$KEIIN_HOME``) are the trust anchors. The
validation runs in a child process with a memory and a time limit (:mod:`keiin.pdf.report`).

Exit status: 0 if every signature and document timestamp is ``TOTAL-PASSED``, 1 if not (or a
limit was reached), 2 for usage errors and input that cannot be read or is not a PDF.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

EXIT_PASSED = 0
EXIT_NOT_PASSED = 1
EXIT_USAGE = 2


class _UsageError(Exception):
    """A problem with the command line or its files: one ``keiin:`` line, exit status 2."""


def _load_certificates(path: str) -> list[Any]:
    """The certificates of a PEM (one or more) or DER file."""
    from cryptography import x509

    try:
        blob = Path(path).read_bytes()
    except OSError as exc:
        raise _UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if b"-----BEGIN" in blob:
            return list(x509.load_pem_x509_certificates(blob))
        return [x509.load_der_x509_certificate(blob)]
    except ValueError:
        raise _UsageError(f"{path} holds no certificate") from None


def _home_roots(home_arg: str | None) -> list[Any]:
    """The root CA certificates of the Keiin home, if there is one (else none)."""
    from keiin.home import Home, resolve_home

    if not Home(resolve_home(home_arg)).secrets.is_dir():
        return []
    from keiin import cli

    cli._setup(home_arg)
    from keiin.web.ca import services
    from keiin.web.ca.models import CertificateAuthority

    return [
        services.certificate_of(ca.certificate_der)
        for ca in CertificateAuthority.objects.filter(kind=CertificateAuthority.Kind.ROOT)
    ]


def _parse_at(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _UsageError(f"--at: not an ISO 8601 date/time: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _write(text: str) -> None:
    """Print ``text`` even on a terminal that cannot show Japanese (escaped, not an error)."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")
    sys.stdout.write(text)
    sys.stdout.flush()


def cmd_verify(args: argparse.Namespace) -> int:
    """Validate the file and print the report; the exit status is the verdict."""
    try:
        return _verify(args)
    except _UsageError as exc:
        print(f"keiin: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _verify(args: argparse.Namespace) -> int:
    from keiin.pdf.report import (
        Limits,
        build_report_limited,
        looks_like_pdf,
        render_json,
        render_text,
        render_xml,
    )

    at = _parse_at(args.at)
    if args.memory_limit is not None and args.memory_limit <= 0:
        raise _UsageError("--memory-limit must be a positive number of MiB")
    if args.timeout is not None and args.timeout <= 0:
        raise _UsageError("--timeout must be a positive number of seconds")
    path = Path(args.file)
    try:
        if not path.is_file():
            raise _UsageError(f"{path}: no such file")
        if not looks_like_pdf(path):
            raise _UsageError(f"{path}: not a PDF file (no %PDF- header)")
    except OSError as exc:
        raise _UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    roots = [c for item in args.trust or [] for c in _load_certificates(item)]
    if not args.trust:
        roots = _home_roots(args.home)
    if not roots:
        raise _UsageError("no trust anchor: give --trust ROOT.pem (or run in a Keiin home)")
    limits = Limits(
        memory_bytes=int(args.memory_limit * (1 << 20)),
        timeout_seconds=args.timeout,
    )
    try:
        report = build_report_limited(path, roots, at=at, limits=limits)
    except OSError as exc:
        raise _UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if args.json:
        _write(render_json(report))
    elif args.xml:
        _write(render_xml(report))
    else:
        _write(render_text(report))
    return EXIT_PASSED if report.passed else EXIT_NOT_PASSED


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``keiin verify`` to the main parser."""
    p = sub.add_parser(
        "verify",
        parents=[common],
        help="validate every signature of a PDF offline (exit 0 only if all pass)",
        description=(
            "Validate every signature and document timestamp of a PDF offline (nothing is "
            "fetched). Exit status 0: all TOTAL-PASSED; 1: not; 2: usage or unreadable input."
        ),
    )
    p.add_argument("file", metavar="FILE.pdf")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the report as JSON")
    output.add_argument(
        "--xml", action="store_true", help="print the ETSI TS 119 102-2 validation report"
    )
    p.add_argument(
        "--trust",
        action="append",
        metavar="ROOT.pem",
        help="trusted root certificate (PEM/DER); repeatable (default: the home's roots)",
    )
    p.add_argument("--at", metavar="ISO-TIME", help="validation time (default: now; UTC if naive)")
    p.add_argument(
        "--memory-limit",
        type=float,
        default=2048.0,
        metavar="MiB",
        help="address-space limit of the validation process (default 2048)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wall-clock limit of the validation (default 60)",
    )
    p.set_defaults(func=cmd_verify)
