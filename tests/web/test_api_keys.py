"""API keys: the console pages that create and revoke them, how a request is authenticated
(bearer key only — never the session), rate limits, and the OpenAPI document and docs page."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from django.test import Client

from keiin.web.accounts.models import Role, User
from keiin.web.api import keys
from keiin.web.api.models import ApiKey
from keiin.web.audit.models import AuditEvent
from keiin.web.service import ratelimit
from tests.support.partners import STAFF_PASSWORD, client_for

pytest_plugins = ["tests.support.smtp", "tests.support.contract_world", "tests.support.api"]
pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/v1/contracts"


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _manager(login_id: str = "manager") -> User:
    return User.objects.create_user(
        login_id, f"{login_id}@operator.example.jp", STAFF_PASSWORD, role=Role.CONTRACT_MANAGER
    )


def _secret_on_page(html: str) -> str:
    found = re.search(r"data-secret>([^<]+)<", html)
    assert found, html[:3000]
    return found.group(1).strip()


@pytest.fixture
def manager(settings) -> User:
    settings.KEIIN_API_RATE = "1000000/min"
    settings.KEIIN_RATE_USER = "1000000/min"
    return _manager()


def test_console_creates_a_key_shown_once_and_stored_hashed(manager):
    client = client_for(manager)
    page = client.get("/console/api-keys/")
    assert page.status_code == 200
    assert "/console/api-keys/" in page.content.decode()  # the console's nav links here
    assert "新しい API キー" in page.content.decode()  # Japanese by default
    assert "New API key" in client.get("/en/console/api-keys/").content.decode()
    response = client.post("/console/api-keys/", {"action": "create", "name": "sales-system"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = _secret_on_page(response.content.decode())
    assert re.fullmatch(r"keiin_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token)
    row = ApiKey.objects.get(name="sales-system")
    assert row.owner == manager and token.startswith(f"keiin_{row.prefix}_")
    # Only the SHA-256 is kept: the secret appears in no column and in no audit event.
    secret = token.split("_", 2)[2]
    assert row.secret_sha256 == hashlib.sha256(token.encode()).hexdigest()
    stored = json.dumps(list(ApiKey.objects.values()), default=str)
    assert secret not in stored and token not in stored
    created = AuditEvent.objects.get(action="api.key.created")
    assert created.actor == f"user:{manager.login_id}"
    assert created.data == {"name": "sales-system", "owner": "manager", "partners": []}
    assert secret not in json.dumps(list(AuditEvent.objects.values("data")), default=str)
    # The list never shows the key again.
    listing = client.get("/console/api-keys/").content.decode()
    assert f"keiin_{row.prefix}_…" in listing and secret not in listing
    # It works, and records when it was used.
    answer = Client().get(LIST, **bearer(token))
    assert answer.status_code == 200, answer.content
    row.refresh_from_db()
    assert row.last_used_at is not None
    # A second key with the same name is refused on the form.
    again = client.post("/console/api-keys/", {"action": "create", "name": "sales-system"})
    assert again.status_code == 400 and ApiKey.objects.count() == 1


def test_missing_wrong_malformed_and_revoked_keys_get_401(manager):
    token = keys.create_key("erp", manager, actor="test").token
    client = Client()
    assert client.get(LIST, **bearer(token)).status_code == 200
    prefix = token.split("_")[1]
    wrong_secret = f"keiin_{prefix}_{'A' * 43}"
    for headers in (
        {},
        {"HTTP_AUTHORIZATION": ""},
        {"HTTP_AUTHORIZATION": f"Basic {token}"},
        {"HTTP_AUTHORIZATION": "Bearer"},
        bearer("keiin_nothing"),
        bearer(wrong_secret),
        bearer(token + "x"),
        bearer(f"keiin_{'0' * 12}_{'A' * 43}"),
        bearer("\u00e9\u00e9"),
    ):
        response = client.get(LIST, **headers)
        assert response.status_code == 401, headers
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert response.json()["detail"]
        assert response["WWW-Authenticate"].startswith("Bearer")
    # Revoked in the console (any staff member may revoke): refused from then on.
    admin = User.objects.create_user(
        "admin", "admin@operator.example.jp", STAFF_PASSWORD, role=Role.OPERATOR_ADMIN
    )
    row = ApiKey.objects.get(name="erp")
    response = client_for(admin).post("/console/api-keys/", {"action": "revoke", "key": row.pk})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None and row.revoked_by == "user:admin"
    response = client.get(LIST, **bearer(token))
    assert response.status_code == 401
    assert response.json() == {"detail": "unknown or revoked API key"}
    revoked = AuditEvent.objects.get(action="api.key.revoked")
    assert revoked.actor == "user:admin" and revoked.data == {"name": "erp"}
    # Revoking again changes nothing; a bad key ID is a 400, not a 500.
    manager_client = client_for(manager)
    assert manager_client.post(
        "/console/api-keys/", {"action": "revoke", "key": row.pk}
    ).status_code == (302)
    assert AuditEvent.objects.filter(action="api.key.revoked").count() == 1
    for bad in ("", "x", "-1", "99999999999999999999999"):
        assert (
            manager_client.post("/console/api-keys/", {"action": "revoke", "key": bad}).status_code
            == 400
        )


def test_a_key_stops_working_when_its_owner_leaves(manager):
    token = keys.create_key("erp", manager, actor="test").token
    assert Client().get(LIST, **bearer(token)).status_code == 200
    User.objects.filter(pk=manager.pk).update(is_active=False)
    assert Client().get(LIST, **bearer(token)).status_code == 401


def test_only_contract_managers_create_keys_and_partners_get_nothing(manager, smtp_server):
    from tests.support.partners import register

    admin = User.objects.create_user(
        "admin", "admin@operator.example.jp", STAFF_PASSWORD, role=Role.OPERATOR_ADMIN
    )
    admin_client = client_for(admin)
    page = admin_client.get("/console/api-keys/")
    assert page.status_code == 200 and 'value="create"' not in page.content.decode()
    response = admin_client.post("/console/api-keys/", {"action": "create", "name": "x"})
    assert response.status_code == 403 and not ApiKey.objects.exists()
    with pytest.raises(keys.ApiKeyError):
        keys.create_key("x", admin, actor="test")
    partner_user = register(smtp_server).user
    partner_client = client_for(partner_user)
    for url in ("/console/api-keys/", "/console/webhooks/", "/en/console/api-keys/"):
        assert partner_client.get(url).status_code == 403
        assert partner_client.post(url, {"action": "create", "name": "x"}).status_code == 403
    assert Client().get("/console/api-keys/").status_code == 302  # to the login page
    assert manager  # (the fixture's manager exists; nothing was created by others)
    assert not ApiKey.objects.exists()


def test_the_session_is_never_used_and_no_csrf_token_is_needed(manager):
    """A console login gives no access to the API; a bearer key needs no CSRF token."""
    staff = client_for(manager)
    response = staff.get(LIST)
    assert response.status_code == 401
    token = keys.create_key("erp", manager, actor="test").token
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        "/api/v1/contracts/" + "0" * 32 + "/cancel",
        data=json.dumps({"reason": "test"}),
        content_type="application/json",
        **bearer(token),
    )
    assert response.status_code == 404  # authenticated, no CSRF refusal (403)
    assert response.json() == {"detail": "no such contract"}


def test_rate_limit_per_key_and_per_address(manager, settings, monkeypatch):
    settings.KEIIN_API_RATE = "3/min"
    now = {"t": 1_800_000_000.0}
    monkeypatch.setattr(ratelimit, "_now", lambda: now["t"])
    first = keys.create_key("first", manager, actor="test").token
    second = keys.create_key("second", manager, actor="test").token
    client = Client()
    for _ in range(3):
        assert client.get(LIST, **bearer(first)).status_code == 200
    refused = client.get(LIST, **bearer(first))
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("too many requests")
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Another key (from the same address) has its own window.
    assert client.get(LIST, **bearer(second)).status_code == 200
    # Requests without a valid key count per address.
    for _ in range(3):
        assert client.get(LIST, **bearer("keiin_bad")).status_code == 401
    assert client.get(LIST, **bearer("keiin_bad")).status_code == 429
    # The next window lets the key in again.
    now["t"] += 60
    assert client.get(LIST, **bearer(first)).status_code == 200


def test_openapi_document_lists_the_endpoints(manager):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert set(paths["/api/v1/contracts"]) == {"get", "post"}
    assert set(paths["/api/v1/contracts/{public_id}"]) == {"get"}
    assert set(paths["/api/v1/contracts/{public_id}/document"]) == {"get"}
    assert set(paths["/api/v1/contracts/{public_id}/cancel"]) == {"post"}
    create = paths["/api/v1/contracts"]["post"]
    form = create["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert {"file", "title", "partner_id", "signatories", "contract_date"} <= set(
        form["properties"]
    )
    schemes = schema["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    document = paths["/api/v1/contracts/{public_id}/document"]["get"]
    assert "application/pdf" in document["responses"]["200"]["content"]


def test_docs_page_loads_nothing_from_elsewhere(manager):
    client = Client()
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn" not in html.lower()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 3 and all(a.startswith("/api/v1/docs/") for a in assets), assets
    assert "default-src 'none'" in page["Content-Security-Policy"]
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.content
    # Anything else under /api/v1/ is a JSON 404.
    missing = client.get("/api/v1/docs/../../etc/passwd")
    assert missing.status_code == 404
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.json() == {"detail": "no such endpoint"}
