"""The ``keiin`` command.

Every sub-command works on the data folder named by ``--home`` or ``$KEIIN_HOME`` (default
``./keiin-data``). Django is set up only for commands that need it, after the home is known.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from keiin.home import Home, resolve_home

WEB_DIR = Path(__file__).resolve().parent / "web"
SHUTDOWN_GRACE_SECONDS = 20


class CliError(Exception):
    """A failure to report as one line on stderr with exit status 1 (no traceback)."""


def _setup(home_arg: str | None, *, create: bool = False) -> Home:
    home = Home(resolve_home(home_arg))
    if create:
        home.create()
    elif not home.secrets.is_dir():
        # Checked before Django loads: settings and SQLite would create files in the folder.
        raise CliError(f"no Keiin home at {home.root}: run `keiin init` first")
    os.environ["KEIIN_HOME"] = str(home.root)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keiin.web.settings")
    import django

    django.setup()
    return home


def _actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = str(os.getuid())
    return f"cli:{user}"


def _require_hierarchy() -> None:
    from django.db.utils import DatabaseError

    from keiin.web.ca import services

    try:
        root = services.get_root()
    except DatabaseError as exc:
        raise CliError(f"database not initialised ({exc}): run `keiin init` first") from None
    if root is None:
        raise CliError("no CA hierarchy: run `keiin init` first")


# --------------------------------------------------------------------------- init


def cmd_init(args: argparse.Namespace) -> int:
    home = _setup(args.home, create=True)
    from django.core.management import call_command

    from keiin.web.accounts.models import Role, User
    from keiin.web.audit.log import record
    from keiin.web.ca import services

    call_command("migrate", interactive=False, verbosity=0)
    if home.sqlite_path.exists():
        os.chmod(home.sqlite_path, 0o600)  # holds password hashes
    organization = (
        args.organization or os.environ.get("KEIIN_ORGANIZATION") or "Keiin Demo Operator"
    )
    try:
        hierarchy = services.ensure_hierarchy(organization, actor=_actor())
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(f"Keiin home: {home.root}")
    if hierarchy.created:
        print("Created the CA hierarchy:")
    else:
        print("CA hierarchy already present (nothing overwritten):")
    for ca in (hierarchy.root, hierarchy.issuing):
        print(f"  {ca.name}  [{ca.slug}]  SHA-256 {ca.fingerprint_sha256}")

    if User.objects.filter(role=Role.OPERATOR_ADMIN).exists():
        print("Operator administrator already exists.")
        return 0
    email = args.admin_email or "admin@localhost"
    password = args.admin_password
    generated = password is None
    if generated:
        password = secrets.token_urlsafe(15)
    user = User.objects.create_superuser(
        login_id=args.admin_login or "admin",
        email=email,
        password=password,
        display_name="Administrator",
        must_change_password=generated,
    )
    record("account.admin.created", actor=_actor(), target=user.login_id, data={"email": email})
    print(f"Operator administrator: login ID {user.login_id!r}, e-mail {email}")
    if generated:
        print(f"One-time password (must be changed at first login): {password}")
    return 0


# --------------------------------------------------------------------------- serve


def _maintenance_loop(interval: float, stop: threading.Event) -> None:
    from keiin.web.maintenance import run_all

    while not stop.wait(interval):
        try:
            run_all()
        except Exception as exc:  # keep serving; the next round retries
            print(f"keiin: maintenance failed: {exc}", file=sys.stderr)


def _granian_command(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--workers",
        str(args.workers),
        "--no-ws",
        "--respawn-failed-workers",
        "--static-path-route",
        "/static",
        "--static-path-mount",
        str(WEB_DIR / "static"),
        "--log-level",
        "warning",
        "keiin.web.asgi:application",
    ]


def _require_current_schema() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise CliError(
            "the database schema is older than this version of Keiin: "
            "run `keiin init` (it migrates and never overwrites data)"
        )


def _clock_monitor():  # type: ignore[no-untyped-def]
    from keiin.tsa.clock import ClockMonitor, parse_servers
    from keiin.web.timestamping.config import tsa_settings
    from keiin.web.timestamping.endpoint import clock_status_file

    cfg = tsa_settings()
    try:
        servers = parse_servers(cfg.ntp_servers)
    except ValueError as exc:
        raise CliError(f"KEIIN_NTP_SERVERS: {exc}") from None
    return ClockMonitor(
        servers, clock_status_file(), tolerance=cfg.clock_tolerance, interval=cfg.ntp_interval
    )


def _serve(args: argparse.Namespace, banner: Callable[[], None] | None = None) -> int:
    from keiin.web.maintenance import run_all

    _require_hierarchy()
    _require_current_schema()
    run_all()
    monitor = _clock_monitor()
    status = monitor.check_once()  # workers see a fresh clock status from their first request
    print(f"keiin: TSA clock {status.state} ({status.source})", flush=True)
    keeper_stop = threading.Event()
    keeper_env, keeper_thread = _start_log_keeper(keeper_stop)
    # granian runs in its own session: a terminal Ctrl-C or a SIGTERM sent to our process
    # group reaches only this process, which passes exactly one signal to the granian master
    # (workers signalled directly would be respawned as "failed" and stall the shutdown).
    child = subprocess.Popen(
        _granian_command(args), env={**os.environ, **keeper_env}, start_new_session=True
    )
    try:
        return _supervise(child, args, monitor, banner)
    finally:
        keeper_stop.set()  # after granian: its workers' last tokens are committed by now
        keeper_thread.join(timeout=5.0)


def _start_log_keeper(stop: threading.Event) -> tuple[dict[str, str], threading.Thread]:
    """Start the issuance-log keeper thread (it runs until ``stop``); return the environment
    the workers need to use it, and the thread."""
    from django.conf import settings

    from keiin.web.timestamping.issuance_log import SOCKET_ENV
    from keiin.web.timestamping.log_keeper import LogKeeper, run_keeper, socket_path
    from keiin.web.timestamping.serials import serial_cipher

    serial_cipher()  # the serial key exists before the workers start (they only read it)
    keeper = LogKeeper(socket_path(settings.HOME.run))
    thread = threading.Thread(target=run_keeper, args=(keeper, stop), name="tsa-log", daemon=True)
    thread.start()
    if not keeper.wait_ready(10.0):
        raise CliError(f"the issuance log keeper did not start at {keeper.path}")
    return {SOCKET_ENV: str(keeper.path)}, thread


def _supervise(
    child: subprocess.Popen[bytes],
    args: argparse.Namespace,
    monitor: object,
    banner: Callable[[], None] | None,
) -> int:
    """Forward signals to granian, run the maintenance and clock threads, wait for the end."""
    stopping = threading.Event()

    def forward(signum: int, _frame: object) -> None:
        stopping.set()
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    thread = threading.Thread(
        target=_maintenance_loop, args=(args.maintenance_interval, stopping), daemon=True
    )
    thread.start()
    threading.Thread(target=monitor.run, args=(stopping,), name="clock", daemon=True).start()  # type: ignore[attr-defined]
    if banner:
        banner()
    while True:
        try:
            return child.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            if stopping.is_set():
                break
    try:
        return child.wait(timeout=SHUTDOWN_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        print("keiin: granian did not stop in time; killing it", file=sys.stderr)
        os.killpg(child.pid, signal.SIGKILL)
        return child.wait()


def cmd_serve(args: argparse.Namespace) -> int:
    _setup(args.home)
    url = f"http://{args.host}:{args.port}/"

    def banner() -> None:
        print(
            f"Keiin is serving on {url} with {args.workers} worker(s). Ctrl-C stops it.", flush=True
        )

    return _serve(args, banner)


def cmd_demo(args: argparse.Namespace) -> int:
    os.environ.setdefault("KEIIN_MAIL", "outbox")
    # The demo TSA answers anyone and, with no NTP server reachable, stamps with an
    # unverified clock (shown as "unchecked" in the repository). Never do this in production.
    os.environ.setdefault("KEIIN_TSA_ANONYMOUS", "1")
    os.environ.setdefault("KEIIN_NTP_SERVERS", "none")
    os.environ.setdefault("KEIIN_TSA_ALLOW_UNCHECKED_CLOCK", "1")
    os.environ.setdefault("KEIIN_BASE_URL", f"http://{args.host}:{args.port}")
    home = Home(resolve_home(args.home))
    fresh = not (home.root / "keiin.sqlite3").exists() and not os.environ.get("DATABASE_URL")
    init_args = argparse.Namespace(
        home=args.home,
        organization="Keiin Demo Operator",
        admin_email="admin@demo.keiin.test",
        admin_password="keiin-demo-admin",  # noqa: S106 - public demo login
        admin_login="admin",
    )
    cmd_init(init_args)
    from keiin.web.demo import create_demo_data

    demo = create_demo_data(actor=_actor())
    base = os.environ["KEIIN_BASE_URL"]

    def banner() -> None:
        print("")
        print("=" * 72)
        print(f" Keiin demo is running: {base}/")
        print(f"   public repository   {base}/repository/   (English: {base}/en/repository/)")
        print(f"   OCSP responder      {base}/ocsp")
        print(f"   time-stamping (TSA) {base}/tsa   (anonymous in the demo)")
        print(f"   operator console    {base}/console/   admin / keiin-demo-admin")
        print(f"   mail outbox         {base}/outbox/   (the demo sends no real mail)")
        for line in demo:
            print(f"   {line}")
        print(f"   data folder         {home.root}" + ("  (new)" if fresh else ""))
        print("=" * 72, flush=True)

    return _serve(args, banner)


# --------------------------------------------------------------------------- ca


def _write_new(path: Path, data: bytes, force: bool, mode: int = 0o644) -> None:
    """Write an output file atomically with exactly ``mode`` (also when replacing one)."""
    if path.exists() and not force:
        raise CliError(f"{path} exists; use --force to overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # not subject to the umask
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def cmd_ca_issue(args: argparse.Namespace) -> int:
    _setup(args.home)
    from cryptography.hazmat.primitives import serialization

    from keiin.pki.keys import generate_private_key
    from keiin.pki.profiles import SubjectInfo
    from keiin.web.ca import services
    from keiin.web.ca.config import policy

    _require_hierarchy()
    outputs = [Path(p) for p in (args.out_cert, args.out_key, args.out_chain) if p]
    for path in outputs:  # refuse before issuing anything, so nothing is half done
        if path.exists() and not args.force:
            raise CliError(f"{path} exists; use --force to overwrite")
    if args.validity_days is not None and args.validity_days <= 0:
        raise CliError("--validity-days must be positive")
    passphrase = args.key_passphrase
    if args.key_passphrase_file:
        try:
            passphrase = Path(args.key_passphrase_file).read_text().rstrip("\n")
        except OSError as exc:
            raise CliError(f"cannot read the passphrase file: {exc}") from None
    key = generate_private_key(policy().key_algorithm)
    subject = SubjectInfo(common_name=args.cn, organization=args.org, email=args.email)
    validity = dt.timedelta(days=args.validity_days) if args.validity_days else None
    try:
        issued = services.issue_signer(subject, key.public_key(), actor=_actor(), validity=validity)
    except (ValueError, services.CaError) as exc:
        raise CliError(str(exc)) from None
    cert = services.certificate_of(issued.certificate_der)
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    _write_new(Path(args.out_key), key_pem, args.force, 0o600)
    _write_new(Path(args.out_cert), cert.public_bytes(serialization.Encoding.PEM), args.force)
    if args.out_chain:
        _write_new(Path(args.out_chain), _chain_pem(), args.force)
    print(f"Issued certificate serial {issued.serial_hex} to {issued.subject}")
    print(f"  certificate: {args.out_cert}")
    print(f"  private key: {args.out_key}" + (" (encrypted)" if passphrase else " (NOT encrypted)"))
    return 0


def _chain_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization

    from keiin.web.ca import services
    from keiin.web.ca.models import CertificateAuthority

    cas = sorted(CertificateAuthority.objects.all(), key=lambda ca: (ca.kind == "root", ca.id))
    return b"".join(
        services.certificate_of(ca.certificate_der).public_bytes(serialization.Encoding.PEM)
        for ca in cas
    )


def cmd_ca_chain(args: argparse.Namespace) -> int:
    _setup(args.home)
    _require_hierarchy()
    pem = _chain_pem()
    if args.out:
        _write_new(Path(args.out), pem, True)
    else:
        sys.stdout.write(pem.decode())
    return 0


def _parse_time(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"not an ISO 8601 date/time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def cmd_ca_revoke(args: argparse.Namespace) -> int:
    _setup(args.home)
    from keiin.pki.revocation import RevocationReason
    from keiin.web.ca import services

    _require_hierarchy()
    try:
        reason = RevocationReason.parse(args.reason)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    invalidity = _parse_time(args.invalidity_date) if args.invalidity_date else None
    try:
        cert = services.find_certificate(args.serial, args.issuer)
        cert = services.revoke(cert, reason, actor=_actor(), invalidity_date=invalidity)
    except services.CaError as exc:
        raise CliError(str(exc)) from None
    print(f"Revoked {cert.serial_hex} ({cert.subject}) reason {reason.value}; CRL re-issued.")
    return 0


def cmd_ca_list(args: argparse.Namespace) -> int:
    _setup(args.home)
    from keiin.web.ca.models import CertificateAuthority, IssuedCertificate

    _require_hierarchy()
    rows = IssuedCertificate.objects.select_related("issuer").order_by("id")
    if args.profile:
        rows = rows.filter(profile=args.profile)
    if args.json:
        out = {
            "authorities": [
                {
                    "slug": ca.slug,
                    "name": ca.name,
                    "kind": ca.kind,
                    "sha256": ca.fingerprint_sha256,
                    "not_after": ca.not_after.isoformat(),
                    "active": ca.active,
                }
                for ca in CertificateAuthority.objects.all()
            ],
            "certificates": [
                {
                    "serial": r.serial_hex,
                    "issuer": r.issuer.slug,
                    "profile": r.profile,
                    "subject": r.subject,
                    "email": r.email,
                    "status": r.status,
                    "not_after": r.not_after.isoformat(),
                    "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
                    "reason": r.revocation_reason or None,
                }
                for r in rows
            ],
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    for ca in CertificateAuthority.objects.all():
        state = "active" if ca.active else "inactive"
        print(f"CA {ca.slug:<14} {ca.kind:<8} {state:<8} until {ca.not_after:%Y-%m-%d}  {ca.name}")
    print()
    print(f"{'SERIAL':<34} {'ISSUER':<14} {'PROFILE':<10} {'STATUS':<8} {'UNTIL':<10}  SUBJECT")
    for r in rows:
        status = r.status if r.status == "valid" else f"revoked ({r.revocation_reason})"
        print(
            f"{r.serial_hex:<34} {r.issuer.slug:<14} {r.profile:<10} {status:<8} "
            f"{r.not_after:%Y-%m-%d}  {r.subject}"
        )
    return 0


def cmd_ca_crl(args: argparse.Namespace) -> int:
    _setup(args.home)
    from keiin.web.ca import services
    from keiin.web.ca.models import CertificateAuthority

    _require_hierarchy()
    for ca in CertificateAuthority.objects.all():
        crl = services.publish_crl(ca, actor=_actor())
        print(
            f"{ca.slug}: CRL number {crl.number}, {crl.entries} entries, "
            f"next update {crl.next_update:%Y-%m-%d %H:%M}Z"
        )
    return 0


def cmd_maintenance(args: argparse.Namespace) -> int:
    _setup(args.home)
    from keiin.web.maintenance import run_all

    _require_hierarchy()
    done = run_all(actor=_actor())
    print(
        f"re-issued CRLs: {done['crls']}, "
        f"renewed OCSP responder certificates: {done['ocsp_responders']}, "
        f"renewed TSA contract years: {done['tsa_renewals']}, "
        f"contract reminders: {done['contract_reminders']}, "
        f"expired contracts: {done['contracts_expired']}"
    )
    return 0


# --------------------------------------------------------------------------- audit


def cmd_audit_verify(args: argparse.Namespace) -> int:
    _setup(args.home)
    from keiin.web.audit.log import verify

    _require_hierarchy()

    report = verify()
    if report.ok:
        print(f"audit chain intact: {report.checked} events")
        return 0
    print(
        f"audit chain BROKEN at event {report.first_bad_seq}: {report.reason} "
        f"({report.checked} events verified before it)",
        file=sys.stderr,
    )
    return 2


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keiin", description="Keiin (契印) electronic contracts")
    parser.add_argument("--version", action="version", version=f"keiin {_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", help="data folder (default $KEIIN_HOME or ./keiin-data)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "init", parents=[common], help="create the data folder, database, CA and admin"
    )
    p.add_argument("--organization", help="operator organisation name for the CA certificates")
    p.add_argument("--admin-login", default="admin", help="login ID of the first administrator")
    p.add_argument("--admin-email", help="e-mail of the first administrator")
    p.add_argument("--admin-password", help="password (default: a generated one-time password)")
    p.set_defaults(func=cmd_init)

    for name, func, helptext in (
        ("serve", cmd_serve, "serve the web app, OCSP and repository with granian"),
        ("demo", cmd_demo, "init if needed, add demo data, and serve"),
    ):
        p = sub.add_parser(name, parents=[common], help=helptext)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)))
        p.add_argument("--maintenance-interval", type=float, default=600.0, help=argparse.SUPPRESS)
        p.set_defaults(func=func)

    ca = sub.add_parser("ca", help="certificate authority operations").add_subparsers(
        dest="ca_command", required=True
    )
    p = ca.add_parser("issue", parents=[common], help="issue a signer certificate and key")
    p.add_argument("--cn", required=True, help="the person's name (CN)")
    p.add_argument("--email", required=True)
    p.add_argument("--org", help="organisation (O)")
    p.add_argument("--out-cert", required=True)
    p.add_argument("--out-key", required=True)
    p.add_argument("--out-chain", help="also write the CA chain (PEM)")
    p.add_argument("--key-passphrase", help="encrypt the key (PKCS#8) with this passphrase")
    p.add_argument("--key-passphrase-file", help="read the passphrase from a file")
    p.add_argument("--validity-days", type=int)
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.set_defaults(func=cmd_ca_issue)

    p = ca.add_parser("revoke", parents=[common], help="revoke a certificate by serial")
    p.add_argument("serial", metavar="SERIAL_HEX")
    p.add_argument("--reason", required=True, help="RFC 5280 reason, e.g. keyCompromise")
    p.add_argument("--invalidity-date", help="ISO 8601 time the key is known compromised")
    p.add_argument("--issuer", help="CA slug, if the serial is ambiguous")
    p.set_defaults(func=cmd_ca_revoke)

    p = ca.add_parser("list", parents=[common], help="list CAs and issued certificates")
    p.add_argument("--profile", help="only this profile (signer, tsa, ocsp, issuing-ca, seal)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ca_list)

    p = ca.add_parser(
        "chain", parents=[common], help="print the CA chain (issuing CA, root) as PEM"
    )
    p.add_argument("--out")
    p.set_defaults(func=cmd_ca_chain)

    p = ca.add_parser("crl", parents=[common], help="publish a fresh CRL for every CA now")
    p.set_defaults(func=cmd_ca_crl)

    p = sub.add_parser("maintenance", parents=[common], help="run periodic upkeep once")
    p.set_defaults(func=cmd_maintenance)

    from keiin.cli_tsa import add_parsers as add_tsa_parsers

    add_tsa_parsers(sub, common)

    from keiin.cli_contracts import add_parsers as add_contract_parsers

    add_contract_parsers(sub, common)

    from keiin.cli_verify import add_parsers as add_verify_parsers

    add_verify_parsers(sub, common)

    from keiin.cli_staff import add_parsers as add_staff_parsers

    add_staff_parsers(sub, common)

    audit = sub.add_parser("audit", help="audit log").add_subparsers(
        dest="audit_command", required=True
    )
    p = audit.add_parser("verify", parents=[common], help="verify the hash chain")
    p.set_defaults(func=cmd_audit_verify)
    return parser


def _version() -> str:
    from keiin import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``keiin`` command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"keiin: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: the ``keiin tsa`` commands
    # import keiin.cli, and its CliError must be the one main() catches.
    from keiin.cli import main as imported_main

    sys.exit(imported_main())
