"""Sending webhook deliveries: signed POSTs, retried with backoff until delivered or failed.

Each attempt first *claims* the delivery in one UPDATE (pending and due → attempts + 1, next
attempt pushed past the request timeout), so the prompt thread, the maintenance loop of every
server and ``keiin maintenance`` never send the same attempt twice; a process that dies
mid-attempt leaves a claim that expires and is retried. A 2xx answer is success; anything
else (another status, a redirect, a timeout, a refused connection) fails the attempt and the
next one is due after ``KEIIN_API_WEBHOOK_RETRIES[n - 1]`` seconds (1 min, 5 min, 30 min, 2 h,
12 h); after the last the delivery is *failed* (and audited).

Right after a change, :func:`deliver_soon` tries the new deliveries in a short-lived daemon
thread, so the request that changed the contract never waits for a receiver; retries are
:func:`deliver_due`'s, called by :func:`keiin.web.maintenance.run_all`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.db import connections
from django.db.models import F
from django.utils import timezone

from keiin.web.api import secretbox, signature
from keiin.web.api.models import Webhook, WebhookDelivery
from keiin.web.api.webhooks import WebhookError, check_url
from keiin.web.audit.log import record

logger = logging.getLogger(__name__)

USER_AGENT = "Keiin-Webhook/1"
#: Seconds one :func:`deliver_due` run may spend starting attempts.
RUN_BUDGET = 120.0
_workers: set[threading.Thread] = set()
_workers_lock = threading.Lock()


@dataclass(frozen=True)
class Outcome:
    """How one attempt went."""

    delivered: bool
    status_code: int | None = None
    error: str = ""


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys sorted, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _timeout() -> float:
    return float(getattr(settings, "KEIIN_API_WEBHOOK_TIMEOUT", 10))


def _retries() -> tuple[int, ...]:
    return tuple(getattr(settings, "KEIIN_API_WEBHOOK_RETRIES", (60, 300, 1800, 7200, 43200)))


def headers(delivery: WebhookDelivery, secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The request headers of one attempt, signature included."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Keiin-Event": delivery.event,
        "X-Keiin-Delivery": delivery.uid,
        "X-Keiin-Timestamp": str(timestamp),
        "X-Keiin-Signature": signature.sign(secret, timestamp, body),
    }


def send(webhook: Webhook, delivery: WebhookDelivery) -> Outcome:
    """POST ``delivery`` to ``webhook`` once (no redirects followed, body not read)."""
    try:
        url = check_url(webhook.url)
        secret = secretbox.open_sealed(webhook.secret_sealed, webhook.uid)
    except (WebhookError, secretbox.SecretBoxError) as exc:
        return Outcome(False, error=str(exc))
    body = body_bytes(delivery.payload)
    timeout = _timeout()
    try:
        with requests.post(
            url,
            data=body,
            headers=headers(delivery, secret, body, int(time.time())),
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
        ) as response:
            code = response.status_code
    except requests.RequestException as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:300])
    if 200 <= code < 300:
        return Outcome(True, code)
    return Outcome(False, code, f"HTTP {code}")


def _claim(delivery_id: int, now: dt.datetime) -> bool:
    lease = now + dt.timedelta(seconds=2 * _timeout() + 60)
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=lease, attempts=F("attempts") + 1, last_attempt_at=now)
    )


def attempt(delivery_id: int, now: dt.datetime | None = None) -> str | None:
    """Try one delivery if it is due at ``now``; its new status, or None if not ours to try."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    webhook = delivery.webhook
    if webhook.active:
        outcome = send(webhook, delivery)
    else:
        outcome = Outcome(False, error="the webhook is disabled")
    return _record(delivery, outcome, now, give_up=not webhook.active)


def _record(delivery: WebhookDelivery, outcome: Outcome, now: dt.datetime, give_up: bool) -> str:
    fields: dict[str, Any] = {
        "last_status_code": outcome.status_code,
        "last_error": outcome.error[:300],
    }
    retries = _retries()
    if outcome.delivered:
        fields.update(
            status=WebhookDelivery.Status.DELIVERED,
            delivered_at=timezone.now(),
            next_attempt_at=None,
        )
    elif give_up or delivery.attempts > len(retries):
        fields.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
    else:
        fields["next_attempt_at"] = now + dt.timedelta(seconds=retries[delivery.attempts - 1])
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    status = fields.get("status", WebhookDelivery.Status.PENDING)
    if status == WebhookDelivery.Status.FAILED:
        record(
            "api.webhook.delivery_failed",
            actor="system",
            target=f"webhook:{delivery.webhook.uid}",
            data={
                "delivery": delivery.uid,
                "event": delivery.event,
                "contract": delivery.contract_public_id,
                "attempts": delivery.attempts,
                "error": outcome.error[:300],
            },
        )
    return str(status)


def deliver_due(
    now: dt.datetime | None = None, limit: int = 500, budget: float = RUN_BUDGET
) -> int:
    """Attempt the pending deliveries due at ``now`` (oldest first); how many were tried.

    A receiver that is down costs one attempt (at most one timeout) per run: once an attempt
    to a webhook fails, its other deliveries wait for the next run. The run stops starting new
    attempts after ``budget`` seconds, so the rest of the maintenance is not held up.
    """
    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", "webhook_id")[:limit]
    )
    deadline = time.monotonic() + budget
    failing: set[int] = set()
    tried = 0
    for pk, webhook_id in due:
        if webhook_id in failing:
            continue
        if time.monotonic() > deadline:
            break
        status = attempt(pk, now)
        if status is None:
            continue
        tried += 1
        if status == WebhookDelivery.Status.PENDING:
            failing.add(webhook_id)
    return tried


def _work(ids: list[int]) -> None:
    try:
        for pk in ids:
            attempt(pk)
    except Exception:  # the maintenance loop retries whatever is left
        logger.exception("webhook delivery thread failed")
    finally:
        connections.close_all()
        with _workers_lock:
            _workers.discard(threading.current_thread())


def deliver_soon(ids: Iterable[int]) -> None:
    """Try ``ids`` now in a daemon thread (unless ``KEIIN_API_WEBHOOK_PROMPT`` is off)."""
    ids = list(ids)
    if not ids or not getattr(settings, "KEIIN_API_WEBHOOK_PROMPT", True):
        return
    thread = threading.Thread(target=_work, args=(ids,), name="keiin-webhooks", daemon=True)
    with _workers_lock:
        _workers.add(thread)
    thread.start()


def wait_for_workers(timeout: float = 30.0) -> bool:
    """Wait until the prompt-delivery threads have finished; False if some still run."""
    deadline = time.monotonic() + timeout
    while True:
        with _workers_lock:
            running = list(_workers)
        if not running:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        running[0].join(remaining)
