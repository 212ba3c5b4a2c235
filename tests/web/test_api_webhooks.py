"""Webhooks: registered in the console (secret shown once, stored encrypted), one signed POST
per change to a real HTTP server on 127.0.0.1, retried with backoff until delivered or failed,
filtered by event and partner; the receiver's check from docs/api.md accepts the signature."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from keiin.web.api import delivery, secretbox, signature, webhooks
from keiin.web.api.models import Webhook, WebhookDelivery
from keiin.web.audit.models import AuditEvent
from keiin.web.contracts import services
from keiin.web.contracts.models import Contract
from tests.support.contracts import SEAL_PIN
from tests.support.partners import client_for

pytest_plugins = ["tests.support.smtp", "tests.support.contract_world", "tests.support.api"]
pytestmark = pytest.mark.django_db(transaction=True)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _docs_check():
    """The receiver-side helper exactly as docs/api.md shows it."""
    text = DOCS.read_text()
    block = re.search(r"```python\n(.*?def keiin_signature_ok.*?)```", text, re.S)
    assert block, "docs/api.md lost its verification helper"
    namespace: dict = {}
    exec(compile(block.group(1), str(DOCS), "exec"), namespace)
    return namespace["keiin_signature_ok"]


def _create_in_console(world, url: str, **extra) -> tuple[Webhook, str]:
    client = client_for(world.manager)
    response = client.post(
        "/console/webhooks/", {"action": "create", "name": "erp", "url": url, **extra}
    )
    assert response.status_code == 200, response.content.decode()[:3000]
    assert "no-store" in response["Cache-Control"]
    secret = re.search(r"data-secret>([^<]+)<", response.content.decode()).group(1).strip()
    return Webhook.objects.latest("id"), secret


def _api(api_world, method: str, path: str, **kwargs):
    client = Client()
    return getattr(client, method)(
        "/api/v1" + path, HTTP_AUTHORIZATION=f"Bearer {api_world.key_all}", **kwargs
    )


def test_signed_delivery_fails_once_then_is_retried(api_world, receiver, settings):
    world = api_world.world
    check = _docs_check()
    hook, secret = _create_in_console(world, receiver.url)
    assert secret.startswith("whsec_")
    # Kept encrypted only: not in the row, not in the audit log.
    assert secret not in json.dumps(list(Webhook.objects.values()), default=str)
    assert secretbox.open_sealed(hook.secret_sealed, hook.uid) == secret
    assert secret not in json.dumps(list(AuditEvent.objects.values("data")), default=str)
    assert AuditEvent.objects.filter(action="api.webhook.created").exists()

    # A contract created through the API: the first attempt goes out at once, gets a 500.
    contract = world.draft()
    assert delivery.wait_for_workers(10)
    item = WebhookDelivery.objects.get()
    assert item.event == "contract.created" and item.contract_public_id == contract.public_id
    assert item.status == "pending" and item.attempts == 1 and item.last_status_code == 500
    wait = (item.next_attempt_at - item.last_attempt_at).total_seconds()
    assert wait == settings.KEIIN_API_WEBHOOK_RETRIES[0] == 60
    assert len(receiver.requests) == 1
    # Not due yet; a minute later the retry succeeds.
    assert delivery.deliver_due(now=timezone.now()) == 0
    assert delivery.deliver_due(now=item.next_attempt_at + dt.timedelta(seconds=1)) == 1
    item.refresh_from_db()
    assert item.status == "delivered" and item.attempts == 2 and item.last_status_code == 200
    assert item.delivered_at is not None and item.next_attempt_at is None
    assert len(receiver.requests) == 2

    # Both attempts: the same delivery and body, each signed at its own time.
    (h1, b1), (h2, b2) = receiver.requests
    assert b1 == b2 and h1["X-Keiin-Delivery"] == h2["X-Keiin-Delivery"] == item.uid
    for headers, body in receiver.requests:
        assert headers["X-Keiin-Event"] == "contract.created"
        assert headers["Content-Type"].startswith("application/json")
        assert re.fullmatch(r"v1=[0-9a-f]{64}", headers["X-Keiin-Signature"])
        assert check(secret, headers["X-Keiin-Timestamp"], body, headers["X-Keiin-Signature"])
        assert signature.verify(
            secret, headers["X-Keiin-Timestamp"], body, headers["X-Keiin-Signature"]
        )
        # Anything changed does not verify.
        assert not check(
            secret, headers["X-Keiin-Timestamp"], body + b" ", headers["X-Keiin-Signature"]
        )
        assert not check(
            "whsec_other", headers["X-Keiin-Timestamp"], body, headers["X-Keiin-Signature"]
        )
        old = str(int(headers["X-Keiin-Timestamp"]) - 3600)
        assert not check(secret, old, body, signature.sign(secret, int(old), body))
    payload = json.loads(b1)
    assert payload["id"] == item.uid and payload["event"] == "contract.created"
    assert payload["contract"] == {
        "public_id": contract.public_id,
        "reference": contract.reference,
        "status": "draft",
        "partner_id": world.partner.pk,
        "original_sha256": "",
    }
    assert payload["created_at"].endswith("Z") and payload["data"] == {}

    # Cancelling through the API is delivered too (the server now answers 200 at once).
    response = _api(
        api_world,
        "post",
        f"/contracts/{contract.public_id}/cancel",
        data=json.dumps({"reason": "条件変更"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert delivery.wait_for_workers(10)
    cancelled = WebhookDelivery.objects.get(event="contract.cancelled")
    assert cancelled.status == "delivered" and cancelled.attempts == 1
    body = json.loads(receiver.requests[-1][1])
    assert body["contract"]["status"] == "cancelled"
    assert body["data"] == {"from": "draft", "reason": "条件変更"}

    # The console shows the deliveries.
    page = client_for(world.manager).get(f"/console/webhooks/{hook.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert item.uid in html and "contract.cancelled" in html and secret not in html


def test_retries_back_off_then_the_delivery_fails(api_world, settings):
    settings.KEIIN_API_WEBHOOK_PROMPT = False  # only deliver_due sends
    settings.KEIIN_API_WEBHOOK_TIMEOUT = 2
    with socket.socket() as sock:  # a port nobody listens on: connection refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    webhooks.create_webhook("down", f"http://127.0.0.1:{port}/", api_world.world.manager, actor="t")
    api_world.world.draft()
    item = WebhookDelivery.objects.get()
    assert item.attempts == 0 and item.status == "pending"
    now = item.next_attempt_at
    for wait in settings.KEIIN_API_WEBHOOK_RETRIES:
        assert delivery.deliver_due(now=now) == 1
        item.refresh_from_db()
        assert item.status == "pending" and item.last_error.startswith("ConnectionError")
        assert item.next_attempt_at == now + dt.timedelta(seconds=wait)
        assert delivery.deliver_due(now=item.next_attempt_at - dt.timedelta(seconds=1)) == 0
        now = item.next_attempt_at
    assert delivery.deliver_due(now=now) == 1
    item.refresh_from_db()
    assert item.status == "failed" and item.attempts == 6 and item.next_attempt_at is None
    assert delivery.deliver_due(now=now + dt.timedelta(days=30)) == 0
    failed = AuditEvent.objects.get(action="api.webhook.delivery_failed")
    assert failed.data["delivery"] == item.uid and failed.data["attempts"] == 6
    # The maintenance loop is what retries (not run here: it has daily side effects).
    import inspect

    from keiin.web import maintenance

    assert maintenance.deliver_due is delivery.deliver_due
    assert 'done["webhook_deliveries"] = deliver_due()' in inspect.getsource(maintenance.run_all)


def test_events_partners_and_disabling(api_world, receiver, settings):
    settings.KEIIN_API_WEBHOOK_PROMPT = False
    receiver.statuses = [204]
    manager = api_world.world.manager
    only_b_cancel = webhooks.create_webhook(
        "b-cancel",
        receiver.url,
        manager,
        events=["contract.cancelled"],
        partners=[api_world.partner_b],
        actor="t",
    ).row
    everything = webhooks.create_webhook("all", receiver.url, manager, actor="t").row
    a_contract = api_world.world.draft()
    b_contract = api_world.draft_b()
    assert set(WebhookDelivery.objects.values_list("webhook__name", "contract_public_id")) == {
        ("all", a_contract.public_id),
        ("all", b_contract.public_id),
    }
    services.cancel(a_contract, manager, "x")
    services.cancel(b_contract, manager, "y")
    assert WebhookDelivery.objects.filter(webhook=only_b_cancel).get().contract_public_id == (
        b_contract.public_id
    )
    # Disabled in the console (any staff): no new deliveries, pending ones are given up.
    response = client_for(manager).post(
        f"/console/webhooks/{everything.pk}/", {"action": "disable"}
    )
    assert response.status_code == 302
    assert delivery.deliver_due() == 5  # "all": 2 created + 2 cancelled; "b-cancel": 1
    assert set(WebhookDelivery.objects.values_list("webhook__name", "status")) == {
        ("all", "failed"),
        ("b-cancel", "delivered"),
    }
    assert len(receiver.requests) == 1
    third = api_world.world.draft()
    assert not WebhookDelivery.objects.filter(contract_public_id=third.public_id).exists()
    assert AuditEvent.objects.filter(action="api.webhook.disabled").count() == 1
    client_for(manager).post(f"/console/webhooks/{everything.pk}/", {"action": "enable"})
    assert Webhook.objects.get(pk=everything.pk).active


def test_state_changes_after_sealing_are_announced(api_world, receiver, settings):
    """Sealing registers the contract and asks the first signatory: two more events."""
    receiver.statuses = [200]
    webhooks.create_webhook(
        "reg",
        receiver.url,
        api_world.world.manager,
        events=["contract.registered", "contract.sign_requested"],
        actor="t",
    )
    contract = api_world.world.draft()
    services.seal(contract, api_world.world.manager, SEAL_PIN)
    assert delivery.wait_for_workers(10)
    events = [json.loads(body) for _headers, body in receiver.requests]
    assert sorted(e["event"] for e in events) == ["contract.registered", "contract.sign_requested"]
    assert {e["contract"]["status"] for e in events} == {Contract.Status.SIGNING}
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_webhook_urls_and_forms_are_checked(api_world):
    manager = api_world.world.manager
    client = client_for(manager)
    for url in (
        "ftp://example.jp/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://user:pw@example.jp/",
        "http://",
        "not a url",
        "http://[::1/",
        "http://example.jp:99999/",
    ):
        response = client.post("/console/webhooks/", {"action": "create", "name": "x", "url": url})
        assert response.status_code == 400, url
        with pytest.raises(webhooks.WebhookError):
            webhooks.create_webhook("x", url, manager, actor="t")
    response = client.post(
        "/console/webhooks/",
        {"action": "create", "name": "x", "url": "https://example.jp/", "events": ["nope"]},
    )
    assert response.status_code == 400
    assert client.post("/console/webhooks/", {"action": "other"}).status_code == 400
    assert client.post("/console/webhooks/999999/", {"action": "disable"}).status_code == 404
    assert not Webhook.objects.exists()
    page = client.get("/console/webhooks/")
    assert page.status_code == 200 and "contract.sign_requested" in page.content.decode()


def test_a_receiver_that_is_down_costs_one_attempt_per_run(api_world, receiver, settings):
    settings.KEIIN_API_WEBHOOK_PROMPT = False
    receiver.statuses = [503, 503, 200]
    webhooks.create_webhook("busy", receiver.url, api_world.world.manager, actor="t")
    for _ in range(3):
        api_world.world.draft()
    assert WebhookDelivery.objects.count() == 3
    assert delivery.deliver_due() == 1  # the first fails: the other two wait
    assert len(receiver.requests) == 1
    later = timezone.now() + dt.timedelta(minutes=2)
    assert delivery.deliver_due(now=later) == 1  # the next oldest due one fails again
    assert delivery.deliver_due(now=later + dt.timedelta(minutes=10)) == 3
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
