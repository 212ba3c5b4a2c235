"""``keiin tsa …``: TSA customer accounts, usage, token revocation, and the client tools.

``stamp`` and ``verify`` are client-side: they need no Keiin home (``verify`` uses the home's
root certificate only when ``--trust`` is not given and a home exists).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

HASHES = {"sha256": 32, "sha384": 48, "sha512": 64}


def _cli():  # type: ignore[no-untyped-def]
    from keiin import cli  # late: cli imports this module to build its parser

    return cli


def _read_password(args: argparse.Namespace) -> str:
    if getattr(args, "password_file", None):
        return Path(args.password_file).read_text().rstrip("\n")
    if args.password is None:
        raise _cli().CliError("give --password or --password-file")
    return args.password


def _service(func: Callable[[], object]) -> object:
    from keiin.web.timestamping.services import TsaServiceError

    try:
        return func()
    except TsaServiceError as exc:
        raise _cli().CliError(str(exc)) from None


# --------------------------------------------------------------------------- accounts


def cmd_account_create(args: argparse.Namespace) -> int:
    cli = _cli()
    cli._setup(args.home)
    from keiin.web.timestamping import services

    start = dt.date.fromisoformat(args.start) if args.start else None
    account = _service(
        lambda: services.create_account(
            args.user,
            _read_password(args),
            actor=cli._actor(),
            plan=args.plan,
            quota=args.quota,
            organization=args.org or "",
            email=args.email or "",
            start=start,
            ip_allowlist="\n".join(args.allow_ip or []),
        )
    )
    quota = account.yearly_quota  # type: ignore[attr-defined]
    print(
        f"Created TSA account {args.user}: contract year {account.contract_start} – "  # type: ignore[attr-defined]
        f"{account.term_end}, quota {quota if quota is not None else 'unlimited'}"  # type: ignore[attr-defined]
    )
    return 0


def _status(args: argparse.Namespace, status: str) -> int:
    cli = _cli()
    cli._setup(args.home)
    from keiin.web.timestamping import services

    _service(lambda: services.set_status(args.user, status, actor=cli._actor(), reason=args.reason))
    print(f"TSA account {args.user}: {status}")
    return 0


def cmd_account_suspend(args: argparse.Namespace) -> int:
    return _status(args, "suspended")


def cmd_account_resume(args: argparse.Namespace) -> int:
    return _status(args, "active")


def cmd_account_terminate(args: argparse.Namespace) -> int:
    return _status(args, "terminated")


def cmd_account_password(args: argparse.Namespace) -> int:
    cli = _cli()
    cli._setup(args.home)
    from keiin.web.timestamping import services

    _service(lambda: services.set_password(args.user, _read_password(args), actor=cli._actor()))
    print(f"Password of TSA account {args.user} changed.")
    return 0


def cmd_account_notice(args: argparse.Namespace) -> int:
    cli = _cli()
    cli._setup(args.home)
    from keiin.web.timestamping import services

    on = dt.date.fromisoformat(args.on) if args.on else None
    end = _service(lambda: services.give_non_renewal_notice(args.user, actor=cli._actor(), on=on))
    print(f"Non-renewal notice recorded for {args.user}: service ends after {end}.")
    return 0


def cmd_account_token(args: argparse.Namespace) -> int:
    cli = _cli()
    cli._setup(args.home)
    from keiin.web.timestamping import services

    if args.revoke:
        n = _service(lambda: services.revoke_api_token(args.user, args.name, actor=cli._actor()))
        print(f"Revoked {n} API token(s) named {args.name!r} of {args.user}.")
        return 0
    new = _service(lambda: services.create_api_token(args.user, args.name, actor=cli._actor()))
    print(f"API token {args.name!r} for {args.user} (shown once; store it now):")
    print(new.secret)  # type: ignore[attr-defined]
    return 0


def cmd_account_list(args: argparse.Namespace) -> int:
    cli = _cli()
    cli._setup(args.home)
    from keiin.web.timestamping.models import TsaAccount

    rows = [
        {
            "user_id": a.user_id,
            "organization": a.organization,
            "status": a.status,
            "plan": a.plan.name if a.plan else None,
            "yearly_quota": a.yearly_quota,
            "contract_start": a.contract_start.isoformat(),
            "term_end": a.term_end.isoformat(),
            "auto_renew": a.auto_renew and a.non_renewal_notice_on is None,
            "ip_allowlist": [x for x in a.ip_allowlist.splitlines() if x],
        }
        for a in TsaAccount.objects.select_related("plan")
    ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    print(f"{'USER ID':<20} {'STATUS':<10} {'QUOTA':>10} {'TERM END':<10}  ORGANIZATION")
    for r in rows:
        quota = r["yearly_quota"] if r["yearly_quota"] is not None else "-"
        print(
            f"{r['user_id']:<20} {r['status']:<10} {quota!s:>10} {r['term_end']:<10}  "
            f"{r['organization']}"
        )
    return 0


def cmd_plan_set(args: argparse.Namespace) -> int:
    _cli()._setup(args.home)
    from keiin.web.timestamping import services

    plan = services.ensure_plan(args.name, args.quota, args.description or "")
    print(f"Plan {plan.name}: {plan.yearly_quota} tokens per contract year")
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    cli = _cli()
    cli._setup(args.home)
    from django.utils import timezone

    from keiin.web.timestamping import terms
    from keiin.web.timestamping.models import TsaAccount

    if args.month:
        try:
            year, month = (int(x) for x in args.month.split("-"))
            dt.date(year, month, 1)
        except ValueError:
            raise cli.CliError("--month must be YYYY-MM") from None
    else:
        today = timezone.localdate()
        year, month = today.year, today.month
    accounts = TsaAccount.objects.select_related("plan").order_by("user_id")
    if args.user:
        accounts = accounts.filter(user_id=args.user)
        if not accounts.exists():
            raise cli.CliError(f"no TSA account {args.user!r}")
    rows = [terms.month_usage(a, year, month) for a in accounts]
    anonymous = terms.anonymous_tokens(year, month) if not args.user else 0
    if args.csv:
        out = csv.writer(sys.stdout)
        out.writerow(["user_id", "month", "tokens", "year_to_date", "quota", "overage"])
        for r in rows:
            quota = "" if r.quota is None else r.quota  # a quota of 0 is a quota
            out.writerow([r.user_id, r.month, r.tokens, r.year_to_date, quota, r.overage])
        if anonymous:
            out.writerow(["(anonymous)", f"{year:04d}-{month:02d}", anonymous, "", "", 0])
        return 0
    print(f"Usage for {year:04d}-{month:02d} (overage is billed the following month)")
    print(f"{'USER ID':<20} {'TOKENS':>10} {'YEAR TO DATE':>13} {'QUOTA':>10} {'OVERAGE':>9}")
    for r in rows:
        quota = r.quota if r.quota is not None else "-"
        print(f"{r.user_id:<20} {r.tokens:>10} {r.year_to_date:>13} {quota!s:>10} {r.overage:>9}")
    if anonymous:
        print(f"{'(anonymous)':<20} {anonymous:>10}")
    print(f"{'total':<20} {sum(r.tokens for r in rows) + anonymous:>10}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    cli = _cli()
    cli._setup(args.home)
    from keiin.web.timestamping import services

    if args.serial:
        _service(lambda: services.revoke_token_serial(args.serial, args.reason, actor=cli._actor()))
        print(f"Token {args.serial} revoked; the revocation list is re-published.")
        return 0
    if not (args.window_from and args.window_to):
        raise cli.CliError("give --serial, or --from and --to")
    start, end = cli._parse_time(args.window_from), cli._parse_time(args.window_to)
    _row, count = _service(  # type: ignore[misc]
        lambda: services.revoke_token_window(start, end, args.reason, actor=cli._actor())
    )
    print(f"Revoked every token from {start.isoformat()} to {end.isoformat()} ({count} issued).")
    return 0


# --------------------------------------------------------------------------- client tools


def build_query(data: bytes, algorithm: str, *, policy: str | None, cert_req: bool) -> bytes:
    """An RFC 3161 TimeStampReq for ``data`` (with a 64-bit random nonce)."""
    from asn1crypto import tsp

    return tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": algorithm},
                "hashed_message": hashlib.new(algorithm, data).digest(),
            },
            **({"req_policy": policy} if policy else {}),
            "nonce": secrets.randbits(63) + 1,
            "cert_req": cert_req,
        }
    ).dump()


def cmd_stamp(args: argparse.Namespace) -> int:
    import requests

    cli = _cli()
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise cli.CliError(f"cannot read {args.file}: {exc}") from None
    query = build_query(data, args.hash, policy=args.policy, cert_req=not args.no_cert)
    headers = {"Content-Type": "application/timestamp-query"}
    auth = None
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    elif args.user:
        auth = (args.user, _read_password(args))
    try:
        reply = requests.post(args.url, data=query, headers=headers, auth=auth, timeout=30)
    except requests.RequestException as exc:
        raise cli.CliError(f"cannot reach {args.url}: {exc}") from None
    if reply.status_code != 200:
        raise cli.CliError(f"TSA refused: HTTP {reply.status_code} {reply.text.strip()[:200]}")
    status, text = response_status(reply.content)
    if status not in (0, 1):
        raise cli.CliError(f"TSA rejected the request: {text}")
    out = Path(args.out)
    cli._write_new(out, reply.content, args.force)
    print(f"Time-stamp token for {args.file} written to {out}")
    return 0


def response_status(response: bytes) -> tuple[int, str]:
    """(PKIStatus, readable reason) of a TimeStampResp, also for rejections."""
    from asn1crypto import core, tsp

    try:
        outer = core.Sequence.load(response)
        info = tsp.PKIStatusInfo.load(outer[0].dump())
        status = int.from_bytes(info["status"].contents, "big", signed=True)
        texts = info["status_string"].native or []
        fail = info["fail_info"].native
        reason = "; ".join([*texts, *(sorted(fail) if fail else [])]) or info["status"].native
        return status, reason
    except (ValueError, TypeError, KeyError, IndexError):
        return -1, "not a TimeStampResp"


def _load_pem_certs(path: str) -> list:  # type: ignore[type-arg]
    from cryptography import x509

    try:
        blob = Path(path).read_bytes()
    except OSError as exc:
        raise _cli().CliError(f"cannot read {path}: {exc}") from None
    try:
        if b"-----BEGIN" in blob:
            return x509.load_pem_x509_certificates(blob)
        return [x509.load_der_x509_certificate(blob)]
    except ValueError:
        raise _cli().CliError(f"{path} holds no certificate") from None


def _home_roots() -> list:  # type: ignore[type-arg]
    """The root CA certificates of the local Keiin home, if there is one."""
    from keiin.home import Home, resolve_home

    if not Home(resolve_home(None)).secrets.is_dir():
        return []
    cli = _cli()
    cli._setup(None)
    from keiin.web.ca import services
    from keiin.web.ca.models import CertificateAuthority

    return [
        services.certificate_of(ca.certificate_der)
        for ca in CertificateAuthority.objects.filter(kind=CertificateAuthority.Kind.ROOT)
    ]


def revocation_list_url(tsa_certificate) -> str | None:  # type: ignore[no-untyped-def]
    """The list published beside the TSA certificate's issuer (same origin as caIssuers)."""
    from urllib.parse import urlsplit

    from cryptography import x509

    try:
        aia = tsa_certificate.extensions.get_extension_for_class(
            x509.AuthorityInformationAccess
        ).value
    except x509.ExtensionNotFound:
        return None
    for description in aia:
        if description.access_method == x509.AuthorityInformationAccessOID.CA_ISSUERS:
            parts = urlsplit(description.access_location.value)
            return f"{parts.scheme}://{parts.netloc}/tsa/revocations.json"
    return None


def fetch_revocation_list(url: str, trust_roots: list) -> tuple[set[int], list, str]:  # type: ignore[type-arg]
    """Download the token revocation list and its token; verify; return serials and windows."""
    import requests

    from keiin.tsa.verify import verify_token

    listing = requests.get(url, timeout=30)
    listing.raise_for_status()
    number = listing.headers.get("X-Keiin-Revocation-List-Number")
    token_url = url[: -len(".json")] + ".tsr" if url.endswith(".json") else url + ".tsr"
    token = requests.get(token_url, params={"number": number} if number else None, timeout=30)
    token.raise_for_status()
    report = verify_token(token.content, data=listing.content, trust_roots=trust_roots)
    if not report.ok:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in report.failed)
        raise ValueError(f"the revocation list's own time-stamp does not verify ({failed})")
    doc = json.loads(listing.content)
    serials = {int(r["serial"], 16) for r in doc["revocations"] if "serial" in r}
    windows = [
        (_iso(r["window_start"]), _iso(r["window_end"]))
        for r in doc["revocations"]
        if "window_start" in r
    ]
    return serials, windows, f"list number {doc.get('number')} published {doc.get('published_at')}"


def _iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def cmd_verify(args: argparse.Namespace) -> int:
    """The customer's duty (seed 004 art. 8.3): imprint, signature, TSA certificate, token."""
    from keiin.tsa.verify import Check, TokenReport, verify_token

    cli = _cli()
    try:
        data = Path(args.data).read_bytes()
        token = Path(args.token).read_bytes()
    except OSError as exc:
        raise cli.CliError(str(exc)) from None
    roots = [c for path in args.trust or [] for c in _load_pem_certs(path)] or _home_roots()
    if not roots:
        raise cli.CliError("no trust anchor: give --trust ROOT.pem (the TSA's root certificate)")
    extra = [c for path in args.untrusted or [] for c in _load_pem_certs(path)]
    first = verify_token(token, data=data, trust_roots=roots, extra_certs=extra)
    list_check: Check
    serials: set[int] = set()
    windows: list = []  # type: ignore[type-arg]
    url = args.revocation_list
    if url is None and first.tsa_certificate is not None:
        url = revocation_list_url(first.tsa_certificate)
    if url is None:
        list_check = Check(
            "revocation-list", False, "no revocation list URL (give --revocation-list)"
        )
    else:
        try:
            serials, windows, detail = fetch_revocation_list(url, roots)
            list_check = Check("revocation-list", True, f"{url}: {detail}")
        except (OSError, ValueError, KeyError) as exc:
            list_check = Check("revocation-list", False, f"{url}: {exc}")
        except Exception as exc:  # requests' errors and the like: report, never a traceback
            list_check = Check("revocation-list", False, f"{url}: {exc}")
    report = verify_token(
        token,
        data=data,
        trust_roots=roots,
        extra_certs=extra,
        revoked_serials=serials,
        revoked_windows=windows,
    )
    full = TokenReport(
        checks=(*report.checks, list_check),
        serial=report.serial,
        gen_time=report.gen_time,
        policy=report.policy,
        tsa_certificate=report.tsa_certificate,
    )
    if args.json:
        print(json.dumps(full.as_dict(), indent=2, ensure_ascii=False))
    else:
        for check in full.checks:
            print(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        if full.ok:
            print(f"Token {full.serial:x} is valid: genTime {full.gen_time.isoformat()}")  # type: ignore[union-attr]
        else:
            print(f"Token NOT valid: {', '.join(c.name for c in full.failed)} failed")
    return 0 if full.ok else 1


# --------------------------------------------------------------------------- parser


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``keiin tsa …`` to the main parser."""
    tsa = sub.add_parser("tsa", help="time-stamping authority").add_subparsers(
        dest="tsa_command", required=True
    )
    account = tsa.add_parser("account", help="TSA customer accounts").add_subparsers(
        dest="account_command", required=True
    )
    p = account.add_parser("create", parents=[common], help="register a customer")
    p.add_argument("--user", required=True, help="user ID")
    p.add_argument("--password")
    p.add_argument("--password-file")
    p.add_argument("--plan", help="plan name (see `keiin tsa plan set`)")
    p.add_argument("--quota", type=int, help="tokens per contract year (overrides the plan)")
    p.add_argument("--org", help="organisation")
    p.add_argument("--email")
    p.add_argument("--start", help="first day of service (YYYY-MM-DD, default today)")
    p.add_argument("--allow-ip", action="append", help="allowed client network (repeatable)")
    p.set_defaults(func=cmd_account_create)
    for name, func, helptext in (
        ("suspend", cmd_account_suspend, "stop issuing tokens to an account"),
        ("resume", cmd_account_resume, "resume a suspended account"),
        ("terminate", cmd_account_terminate, "end an account for good"),
    ):
        p = account.add_parser(name, parents=[common], help=helptext)
        p.add_argument("user", metavar="ID")
        p.add_argument("--reason", default="")
        p.set_defaults(func=func)
    p = account.add_parser("password", parents=[common], help="change an account's password")
    p.add_argument("user", metavar="ID")
    p.add_argument("--password")
    p.add_argument("--password-file")
    p.set_defaults(func=cmd_account_password)
    p = account.add_parser("notice", parents=[common], help="record notice of non-renewal")
    p.add_argument("user", metavar="ID")
    p.add_argument("--on", help="date the notice was received (default today)")
    p.set_defaults(func=cmd_account_notice)
    p = account.add_parser("token", parents=[common], help="create (or revoke) an API token")
    p.add_argument("user", metavar="ID")
    p.add_argument("--name", required=True)
    p.add_argument("--revoke", action="store_true")
    p.set_defaults(func=cmd_account_token)
    p = account.add_parser("list", parents=[common], help="list accounts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_account_list)

    plan = tsa.add_parser("plan", help="yearly plans").add_subparsers(
        dest="plan_command", required=True
    )
    p = plan.add_parser("set", parents=[common], help="create or change a plan")
    p.add_argument("name")
    p.add_argument("--quota", type=int, required=True, help="tokens per contract year")
    p.add_argument("--description")
    p.set_defaults(func=cmd_plan_set)

    p = tsa.add_parser("usage", parents=[common], help="tokens per account for one month")
    p.add_argument("user", nargs="?", metavar="ID")
    p.add_argument("--month", help="YYYY-MM (default: this month)")
    p.add_argument("--csv", action="store_true")
    p.set_defaults(func=cmd_usage)

    p = tsa.add_parser("revoke", parents=[common], help="revoke a token or a time window")
    p.add_argument("--serial", help="token serial (hex)")
    p.add_argument("--from", dest="window_from", help="window start (ISO 8601)")
    p.add_argument("--to", dest="window_to", help="window end, exclusive (ISO 8601)")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_revoke)

    p = tsa.add_parser("stamp", help="obtain a time-stamp token for a file")
    p.add_argument("file")
    p.add_argument("--url", required=True, help="e.g. https://keiin.example.jp/tsa")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--password-file")
    p.add_argument("--token", help="API token (Bearer) instead of user ID and password")
    p.add_argument("--hash", choices=sorted(HASHES), default="sha256")
    p.add_argument("--policy", help="request this TSA policy OID")
    p.add_argument("--no-cert", action="store_true", help="do not ask for the TSA certificate")
    p.add_argument("--out", required=True)
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_stamp)

    p = tsa.add_parser("verify", help="verify a token as the terms require (art. 8.3)")
    p.add_argument("--data", required=True, help="the time-stamped file")
    p.add_argument("--token", required=True, help="the .tsr (TimeStampResp) or bare token")
    p.add_argument("--trust", action="append", help="root certificate (PEM/DER); repeatable")
    p.add_argument("--untrusted", action="append", help="extra certificates (e.g. the TSA's)")
    p.add_argument("--revocation-list", help="token revocation list URL (default: from the TSA)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)
