"""Webhooks: registering endpoints, and queueing one delivery per matching webhook whenever
a contract changes (:data:`keiin.web.contracts.notify.contract_changed`, sent after commit).

Sending, signing and retrying are :mod:`keiin.web.api.delivery`'s job. The receiver never lets
an error escape into the request that changed the contract: the change is committed already,
and a failure to queue is logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from keiin.web.accounts.models import User
from keiin.web.api import keys, secretbox
from keiin.web.api.models import Webhook, WebhookDelivery, _new_uid
from keiin.web.audit.log import record
from keiin.web.contracts.models import Contract
from keiin.web.contracts.notify import contract_changed
from keiin.web.partners.models import Partner

logger = logging.getLogger(__name__)

#: The events Keiin announces (a webhook with no filter gets every event, including new ones).
EVENTS = (
    "contract.created",
    "contract.registered",
    "contract.sign_requested",
    "contract.reminded",
    "contract.signed",
    "contract.completed",
    "contract.declined",
    "contract.cancelled",
    "contract.expired",
    "contract.invalid",
)


class WebhookError(Exception):
    """A refused webhook operation; the message can be shown to the person."""


@dataclass(frozen=True)
class NewWebhook:
    """A webhook just created: the row and its signing secret (shown once)."""

    row: Webhook
    secret: str


def check_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host; :class:`WebhookError` if not."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise WebhookError("not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookError("the URL must start with http:// or https://")
    if not host:
        raise WebhookError("the URL has no host")
    if parts.username or parts.password:
        raise WebhookError("the URL must not contain a user name or password")
    return url


def create_webhook(
    name: str,
    url: str,
    owner: User,
    *,
    events: Iterable[str] = (),
    partners: Iterable[Partner] = (),
    actor: str,
) -> NewWebhook:
    """Register a webhook; its signing secret is returned once and kept only encrypted."""
    name = name.strip()
    if not name:
        raise WebhookError("a name is required")
    if not keys.may_create(owner):
        raise WebhookError("only a contract manager can create webhooks")
    url = check_url(url)
    chosen = sorted(set(events))
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise WebhookError("unknown events: " + ", ".join(unknown))
    scope = sorted({p.pk for p in partners})
    secret = "whsec_" + secrets.token_urlsafe(32)
    uid = _new_uid()
    with transaction.atomic():
        row = Webhook.objects.create(
            uid=uid,
            name=name[:100],
            url=url,
            secret_sealed=secretbox.seal(secret, uid),
            events=chosen,
            owner=owner,
        )
        if scope:
            row.partners.set(scope)
        record(
            "api.webhook.created",
            actor=actor,
            target=f"webhook:{row.uid}",
            data={"name": row.name, "url": url, "events": chosen, "partners": scope},
        )
    return NewWebhook(row, secret)


def set_active(webhook: Webhook, active: bool, *, actor: str) -> bool:
    """Enable or disable ``webhook``; False if it was so already. Pending deliveries of a
    disabled webhook are given up when they come due."""
    with transaction.atomic():
        updated = Webhook.objects.filter(pk=webhook.pk, active=not active).update(
            active=active, disabled_at=None if active else timezone.now()
        )
        if updated:
            record(
                "api.webhook.enabled" if active else "api.webhook.disabled",
                actor=actor,
                target=f"webhook:{webhook.uid}",
                data={"name": webhook.name},
            )
    return bool(updated)


def payload(
    delivery_uid: str, event: str, contract: Contract, data: dict[str, Any], at: dt.datetime
) -> dict[str, Any]:
    """The JSON body of one delivery."""
    return {
        "id": delivery_uid,
        "event": event,
        "created_at": at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "contract": {
            "public_id": contract.public_id,
            "reference": contract.reference,
            "status": contract.status,
            "partner_id": contract.partner_id,
            "original_sha256": contract.original_sha256,
        },
        "data": data,
    }


def enqueue(contract: Contract, event: str, data: dict[str, Any]) -> list[int]:
    """One pending delivery per active webhook that wants ``event`` for this partner."""
    created: list[int] = []
    now = timezone.now()
    for webhook in Webhook.objects.filter(active=True).prefetch_related("partners"):
        scope = {p.pk for p in webhook.partners.all()}
        if not webhook.wants(event) or (scope and contract.partner_id not in scope):
            continue
        uid = _new_uid()
        delivery = WebhookDelivery.objects.create(
            uid=uid,
            webhook=webhook,
            event=event[:64],
            contract_public_id=contract.public_id,
            payload=payload(uid, event, contract, data, now),
            created_at=now,
            next_attempt_at=now,
        )
        created.append(delivery.pk)
    return created


@receiver(contract_changed)
def _contract_changed(
    sender: Any, *, contract: Contract, event: str, data: dict[str, Any], **_: Any
) -> None:
    from keiin.web.api import delivery

    try:
        created = enqueue(contract, event, dict(data or {}))
    except Exception:  # the change stands; the maintenance loop cannot help with this one
        logger.exception("could not queue webhook deliveries for %s %s", event, contract.pk)
        return
    if created:
        transaction.on_commit(lambda: delivery.deliver_soon(created))
