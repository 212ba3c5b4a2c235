"""Partner A's people reach nothing of partner B, by any route (a generated matrix).

Every URL pattern of the project is requested — GET and POST, Japanese and English — by a
logged-in signatory of partner A, with every path parameter filled from partner B's objects
(B's login slug, B's people, B's certificate, …). Nothing may show B's private data, change
B's state, or fail with a server error. New routes are covered automatically: a route with a
parameter this test cannot fill fails the test until it is taught what the parameter means.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from io import BytesIO

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from keiin.web.accounts.models import Role, User
from keiin.web.ca import services as ca_services
from keiin.web.contracts import services as contract_services
from keiin.web.contracts.models import Contract, ContractSigner, ContractVersion
from keiin.web.credentials import services as credential_services
from keiin.web.credentials.models import SignerCredential
from keiin.web.credentials.pepper import reset_pepper
from keiin.web.partners.models import Partner
from tests.support.contracts import make_manager
from tests.support.custody import use_fast_custody
from tests.support.partners import client_for, register
from tests.unit.pdf.support import minimal_pdf

pytest_plugins = ["tests.support.smtp"]
pytestmark = pytest.mark.django_db(transaction=True)

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def _routes() -> list[str]:
    """Every URL pattern as a template string ('p/<slug:slug>/', …)."""

    def walk(resolver: URLResolver, prefix: str) -> list[str]:
        out: list[str] = []
        for pattern in resolver.url_patterns:
            text = str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                out.extend(walk(pattern, prefix + text))
            elif isinstance(pattern, URLPattern):
                out.append(prefix + text)
        return out

    return walk(get_resolver(), "")


def _fill(route: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(2) or match.group(3)
        if name not in values:
            raise AssertionError(f"route {route!r}: teach this test what {name!r} means")
        return values[name]

    path = _PARAM.sub(one, route)
    return "/" + path.lstrip("^").rstrip("$").replace("\\.", ".")


@pytest.fixture
def two_partners(smtp_server, monkeypatch, tmp_path, settings):
    # The matrix makes hundreds of requests in a few seconds: lift the rate limits, so that
    # every answer is the route's own (a 429 would hide what the route does).
    settings.KEIIN_RATE_USER = "1000000/min"
    settings.KEIIN_RATE_GLOBAL = "1000000/min"
    use_fast_custody(monkeypatch, tmp_path)
    ca_services.ensure_hierarchy("Test Operator", actor="test")
    a = register(smtp_server, name_en="Alpha Trading K.K.", email="a1@alpha.example.jp")
    b = register(smtp_server, name_en="Beta Industries K.K.", email="b1@beta.example.jp")
    credential_services.request_certificate(
        b.user, "583920", credential_services.Receipt(ip="192.0.2.9", user_agent="t")
    )
    settings.KEIIN_BLOB_DIR = tmp_path / "blobs"
    manager = make_manager()
    contract = contract_services.create_contract(
        contract_services.ContractTerms(
            title="ベータ社との秘密の契約",
            partner=b.partner,
            signatories=[b.user],
            contract_date=dt.date(2026, 11, 1),
            amount=Decimal(98_765_432),
        ),
        BytesIO(minimal_pdf()),
        creator=manager,
    )
    # As if sealed: registered and waiting for B's signatory (visible to B's people only).
    Contract.objects.filter(pk=contract.pk).update(status=Contract.Status.SIGNING)
    ContractSigner.objects.filter(contract=contract).update(status=ContractSigner.Status.WAITING)
    yield a, b
    reset_pepper()


def _b_state(b_partner: Partner) -> tuple:
    people = tuple(
        User.objects.filter(partner=b_partner)
        .order_by("pk")
        .values_list("pk", "is_active", "email", "display_name", "role", "password")
    )
    partner = Partner.objects.filter(pk=b_partner.pk).values_list("status", "name_ja").get()
    credentials = tuple(
        SignerCredential.objects.filter(user__partner=b_partner).values_list(
            "credential_id", "status", "pin_failures"
        )
    )
    contracts = tuple(
        Contract.objects.filter(partner=b_partner).values_list("public_id", "status", "closed_at")
    )
    signers = tuple(
        ContractSigner.objects.filter(contract__partner=b_partner).values_list(
            "status", "viewed_at", "signing_since"
        )
    )
    versions = ContractVersion.objects.filter(contract__partner=b_partner).count()
    return people, partner, credentials, contracts, signers, versions


def test_partner_a_reaches_nothing_of_partner_b(two_partners):
    a, b = two_partners
    b_user = b.user
    b_credential = SignerCredential.objects.get(user=b_user)
    b_contract = Contract.objects.get(partner=b.partner)
    values = {
        "public_id": b_contract.public_id,
        "number": "0",
        "partner_pk": str(b.partner.pk),
        "slug": b.partner.login_slug,
        "pk": str(b.partner.pk),
        "user_pk": str(b_user.pk),
        "credential_id": b_credential.credential_id,
        "uidb64": "MQ",
        "token": "set-password-abc123",
        "serial": b_credential.certificate.serial_hex,
        "user_id": "nobody",
    }
    secrets = [
        b_user.email,
        b_user.login_id,
        b_credential.certificate.serial_hex,
        "Beta Industries",
        b_contract.title,
        b_contract.reference,
        "98,765,432",
    ]
    before = _b_state(b.partner)
    routes = _routes()
    assert any("p/<slug:slug>/certificate/" in r for r in routes)
    client: Client = client_for(a.user)
    assert a.user.role == Role.SIGNATORY
    checked = 0
    for route in routes:
        path = _fill(route, values)
        for prefix in ("", "/en"):
            url = prefix + path
            for method, data in (
                ("get", {}),
                ("post", {"action": "revoke", "confirm": "on"}),
                ("post", {"action": "decline", "reason": "x"}),
                ("post", {"action": "sign", "pin": "583920", "read": "on"}),
            ):
                client.force_login(a.user)  # (B's logout URL logs A out: harmless, but go on as A)
                response = getattr(client, method)(url, data)
                checked += 1
                assert response.status_code < 500, (method, url, response.status_code)
                assert response.status_code != 429, (method, url)
                if response.status_code == 200:
                    body = response.content.decode(errors="replace")
                    leaked = [s for s in secrets if s in body]
                    # B's company name appears on B's public login page only (it is the page's
                    # title); anything else of B's is a leak.
                    if "/login/" in url or url.endswith("/password/"):
                        leaked = [s for s in leaked if s != "Beta Industries"]
                    assert not leaked, (method, url, leaked)
        assert _b_state(b.partner) == before, route
    assert checked >= 8 * len(routes)
    # The matrix ran logged in: A reaches A's own page the same way.
    client.force_login(a.user)
    assert client.get(f"/p/{a.partner.login_slug}/").status_code == 200
