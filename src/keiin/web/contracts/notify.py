"""Telling people and systems about contract changes: e-mail and the ``contract_changed`` signal.

Both happen only after the change is committed (a rolled-back change is never announced). A
mail failure is audited and never undoes the change. The REST API's webhooks listen to
:data:`contract_changed`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.dispatch import Signal

from keiin.web.accounts.models import Role, User
from keiin.web.audit.log import record
from keiin.web.contracts.models import Contract

#: Sent after commit with ``contract``, ``event`` (e.g. ``"contract.signed"``), ``actor`` and
#: ``data`` (a JSON-safe dict). ``sender`` is :class:`Contract`.
contract_changed = Signal()


def _language(user: User) -> str:
    return user.partner.language if user.partner_id else "ja"


def _links(contract: Contract, user: User, language: str) -> dict[str, str]:
    from keiin.web.partners.mail import absolute_url

    if user.partner_id:
        return {
            "link": absolute_url(
                "contracts:partner-detail",
                language,
                slug=user.partner.login_slug,
                public_id=contract.public_id,
            ),
            "login_link": absolute_url("partners:login", language, slug=user.partner.login_slug),
        }
    return {
        "link": absolute_url("contracts:console-detail", language, public_id=contract.public_id)
    }


def send_mail(
    contract: Contract, template: str, users: Iterable[User], extra: dict[str, Any] | None = None
) -> None:
    """Mail ``contracts/mail/<template>.txt`` to each of ``users`` in their language, now."""
    from keiin.web.partners import mail

    seen: set[str] = set()
    for user in users:
        if not user.email or user.email in seen or not user.is_active:
            continue
        seen.add(user.email)
        language = _language(user)
        context = {
            "contract": contract,
            "user": user,
            "partner_name": contract.partner.company_name(language),
            **_links(contract, user, language),
            **(extra or {}),
        }
        try:
            mail.send(f"contracts/mail/{template}", user.email, context, language)
        except Exception as exc:  # SMTP down: the change stands, the failure is on record
            record(
                "mail.failed",
                actor="system",
                target=f"contract:{contract.public_id}",
                data={"template": template, "error": type(exc).__name__},
            )


def after_commit(
    contract: Contract,
    event: str,
    *,
    actor: str,
    template: str | None = None,
    to: Iterable[User] = (),
    data: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Once the transaction commits: mail ``template`` to ``to`` and send the signal."""
    recipients = list(to)
    payload = dict(data or {})

    def announce() -> None:
        fresh = Contract.objects.select_related("partner").get(pk=contract.pk)
        if template:
            send_mail(fresh, template, recipients, extra)
        contract_changed.send(
            sender=Contract, contract=fresh, event=event, actor=actor, data=payload
        )

    transaction.on_commit(announce)


def operator_people(contract: Contract) -> list[User]:
    """Who is told on the operator's side: the contract's creator (if still active)."""
    creator = User.objects.get(pk=contract.created_by_id)
    return [creator] if creator.is_active else []


def partner_people(contract: Contract) -> list[User]:
    """The partner's active people (they may all view the contract)."""
    return list(
        User.objects.filter(
            partner_id=contract.partner_id,
            is_active=True,
            role__in=(Role.PARTNER_USER, Role.SIGNATORY),
        ).select_related("partner")
    )


def signers_told_so_far(contract: Contract) -> list[User]:
    """Signatories who were already asked to sign (they are waiting or have signed)."""
    return [
        s.user
        for s in contract.signers.select_related("user", "user__partner").exclude(notified_at=None)
    ]


def everyone(contract: Contract) -> list[User]:
    """The operator's people, every signatory and the partner's people."""
    signers = [s.user for s in contract.signers.select_related("user", "user__partner")]
    return [*operator_people(contract), *signers, *partner_people(contract)]
