"""``keiin contracts …``: the periodic job by hand, the integrity check, retention purges."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys


def _cli():  # type: ignore[no-untyped-def]
    from keiin import cli  # late: cli imports this module to build its parser

    return cli


def cmd_tick(args: argparse.Namespace) -> int:
    """Reminders, expiry, recovery of unfinished signatures (what ``keiin serve`` runs)."""
    _cli()._setup(args.home)
    from keiin.web.contracts.services import tick

    done = tick()
    print(f"reminded: {done['reminded']}, expired: {done['expired']}, advanced: {done['advanced']}")
    return 0


def cmd_verify_store(args: argparse.Namespace) -> int:
    """Re-hash every stored contract file; exit 1 if any is missing or changed."""
    _cli()._setup(args.home)
    from keiin.web.contracts.integrity import check_all
    from keiin.web.contracts.models import ContractVersion

    findings = list(check_all())
    total = ContractVersion.objects.count()
    if args.json:
        print(
            json.dumps(
                {
                    "checked": total,
                    "findings": [f.__dict__ for f in findings],
                },
                indent=2,
            )
        )
    else:
        for f in findings:
            print(f"{f.problem:8} {f.reference} v{f.version} {f.sha256}", file=sys.stderr)
        print(f"checked {total} contract files: {len(findings)} problem(s)")
    return 1 if findings else 0


def cmd_purge(args: argparse.Namespace) -> int:
    """Delete closed contracts whose retention period has ended (``--dry-run`` lists them)."""
    _cli()._setup(args.home)
    from django.utils import timezone

    from keiin.web.contracts.models import Contract
    from keiin.web.contracts.retention import purge

    today = dt.date.fromisoformat(args.today) if args.today else timezone.localdate()
    due = [
        c
        for c in Contract.objects.filter(retention_until__lt=today).order_by("retention_until")
        if c.is_closed or c.status == Contract.Status.INVALID
    ]
    for contract in due:
        print(f"{contract.reference} kept until {contract.retention_until.isoformat()}")
        if not args.dry_run:
            purge(contract, actor=_cli()._actor(), today=today)
    verb = "would purge" if args.dry_run else "purged"
    print(f"{verb} {len(due)} contract(s)")
    return 0


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``keiin contracts …`` to the main parser."""
    contracts = sub.add_parser("contracts", help="contracts").add_subparsers(
        dest="contracts_command", required=True
    )
    p = contracts.add_parser(
        "tick", parents=[common], help="send reminders, expire overdue contracts, recover"
    )
    p.set_defaults(func=cmd_tick)
    p = contracts.add_parser(
        "verify-store", parents=[common], help="re-hash every stored contract file"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify_store)
    p = contracts.add_parser(
        "purge", parents=[common], help="delete contracts whose retention period has ended"
    )
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--today", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_purge)
