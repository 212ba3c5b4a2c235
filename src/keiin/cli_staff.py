"""``keiin staff …``: operator staff accounts (administrators and contract managers).

Partner people are registered through applications in the console; the operator's own staff
are added here (the console has no page for it: creating people who can use the organisation
seal is an administrator's deliberate act on the server).
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

ROLES = {"contract_manager": "CONTRACT_MANAGER", "operator_admin": "OPERATOR_ADMIN"}


def _cli():  # type: ignore[no-untyped-def]
    from keiin import cli  # late: cli imports this module to build its parser

    return cli


def cmd_add(args: argparse.Namespace) -> int:
    """Create a staff account; without a password, print a one-time one (changed at login)."""
    cli = _cli()
    cli._setup(args.home)
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email
    from django.db import transaction

    from keiin.web.accounts.models import Role, User
    from keiin.web.audit.log import record

    try:
        validate_email(args.email)
    except ValidationError:
        raise cli.CliError(f"not a valid e-mail address: {args.email}") from None
    if User.objects.filter(login_id=args.login).exists():
        raise cli.CliError(f"the login ID {args.login!r} is taken")
    password = Path(args.password_file).read_text().rstrip("\n") if args.password_file else None
    generated = password is None
    if generated:
        password = secrets.token_urlsafe(15)
    with transaction.atomic():
        user = User.objects.create_user(
            args.login,
            args.email,
            password,
            display_name=args.name or "",
            role=getattr(Role, ROLES[args.role]),
            must_change_password=generated,
        )
        record(
            "account.staff.created",
            actor=cli._actor(),
            target=user.login_id,
            data={"role": user.role, "email": user.email},
        )
    print(f"Created {user.role} {user.login_id!r} ({user.email}).")
    if generated:
        print(f"One-time password (must be changed at first login): {password}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List the operator's staff."""
    _cli()._setup(args.home)
    from keiin.web.accounts.models import User

    for user in User.objects.filter(partner__isnull=True).order_by("login_id"):
        state = "active" if user.is_active else "inactive"
        print(f"{user.login_id:20} {user.role:18} {state:8} {user.email}")
    return 0


def cmd_deactivate(args: argparse.Namespace) -> int:
    """Disable a staff login (kept for the audit trail)."""
    cli = _cli()
    cli._setup(args.home)
    from keiin.web.accounts.models import User
    from keiin.web.audit.log import record

    user = User.objects.filter(login_id=args.login, partner__isnull=True).first()
    if user is None:
        raise cli.CliError(f"no staff account {args.login!r}")
    user.is_active = False
    user.save(update_fields=["is_active"])
    record("account.staff.deactivated", actor=cli._actor(), target=user.login_id)
    print(f"Deactivated {user.login_id!r}.")
    return 0


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``keiin staff …`` to the main parser."""
    staff = sub.add_parser("staff", help="operator staff accounts").add_subparsers(
        dest="staff_command", required=True
    )
    p = staff.add_parser("add", parents=[common], help="add a contract manager or administrator")
    p.add_argument("--login", required=True, help="login ID")
    p.add_argument("--email", required=True)
    p.add_argument("--name", help="display name")
    p.add_argument("--role", choices=sorted(ROLES), default="contract_manager")
    p.add_argument("--password-file", help="read the password from a file (default: generate)")
    p.set_defaults(func=cmd_add)
    p = staff.add_parser("list", parents=[common], help="list staff accounts")
    p.set_defaults(func=cmd_list)
    p = staff.add_parser("deactivate", parents=[common], help="disable a staff login")
    p.add_argument("login")
    p.set_defaults(func=cmd_deactivate)
