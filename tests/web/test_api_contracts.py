"""The contract endpoints over real HTTP (a live server and ``requests``): create from a
multipart upload, search, status, download (bytes match, audited), cancel; refusals are 4xx
JSON; a key limited to one partner never reaches another partner's contracts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
import requests
from django.test import Client
from django.utils import timezone

from keiin.web.accounts.models import Role, User
from keiin.web.audit.models import AuditEvent
from keiin.web.contracts.models import Contract, ContractSigner, ContractVersion
from tests.support.contracts import SEAL_PIN
from tests.unit.pdf.support import minimal_pdf

pytest_plugins = ["tests.support.smtp", "tests.support.contract_world", "tests.support.api"]
pytestmark = pytest.mark.django_db(transaction=True)


class Api:
    """``requests`` against the live server with one key."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.trust_env = False  # never through a proxy from the environment
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.base + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.session.post(self.base + path, timeout=60, **kwargs)


def _fields(api_world, **overrides) -> list[tuple[str, str]]:
    values = {
        "title": "業務委託契約書",
        "partner_id": str(api_world.partner_a.pk),
        "signatories": [str(api_world.signatory_a.pk)],
        "contract_date": "2026-11-01",
        "amount": "1234567",
        "starts_on": "2026-12-01",
        "ends_on": "2027-11-30",
    }
    values.update(overrides)
    out: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            out.append((name, item))
    return out


PDF = minimal_pdf(2)


def _create(api: Api, api_world, pdf: bytes | None = None, **overrides) -> requests.Response:
    files = {"file": ("keiyaku.pdf", PDF if pdf is None else pdf, "application/pdf")}
    return api.post("/contracts", data=_fields(api_world, **overrides), files=files)


def test_create_list_detail_download_cancel(api_world, live_server):
    api = Api(live_server.url, api_world.key_all)
    response = _create(api, api_world)
    assert response.status_code == 201, response.text
    created = response.json()
    contract = Contract.objects.get(public_id=created["public_id"])
    assert (
        contract.status == Contract.Status.DRAFT and contract.created_by == api_world.world.manager
    )
    assert created["status"] == "draft" and created["amount"] == 1234567
    assert created["partner"]["id"] == api_world.partner_a.pk
    assert created["retention_until"] == "2037-11-30"
    assert [s["user_id"] for s in created["signatories"]] == [api_world.signatory_a.pk]
    assert created["signatories"][0]["status"] == "pending"
    (v0,) = created["versions"]
    assert v0["number"] == 0 and v0["kind"] == "uploaded"
    assert v0["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert created["original_sha256"] == ""
    events = AuditEvent.objects.filter(target=f"contract:{contract.public_id}")
    assert events.get(action="contract.created").actor == "api:erp"
    assert events.get(action="api.contract.created").actor == "api:erp"

    # Two signatories in order, as repeated fields.
    second = User.objects.create_user(
        "ichiro2",
        "ichiro2@torihikisaki.example.jp",
        role=Role.SIGNATORY,
        partner=api_world.partner_a,
    )
    two = _create(
        api,
        api_world,
        signatories=[str(second.pk), str(api_world.signatory_a.pk)],
        title="二人の署名",
        amount="50",
        contract_date="2025-01-15",
    )
    assert two.status_code == 201, two.text
    assert [s["user_id"] for s in two.json()["signatories"]] == [
        second.pk,
        api_world.signatory_a.pk,
    ]
    b_contract = api_world.draft_b()

    # Search: every contract for the unscoped key, by the statutory keys.
    listing = api.get("/contracts")
    assert listing.status_code == 200
    page = listing.json()
    assert page["count"] == 3 and {i["public_id"] for i in page["items"]} == {
        created["public_id"],
        two.json()["public_id"],
        b_contract.public_id,
    }

    def ids(**params) -> set[str]:
        answer = api.get("/contracts", params=params)
        assert answer.status_code == 200, (params, answer.text)
        return {i["public_id"] for i in answer.json()["items"]}

    assert ids(date_from="2026-01-01") == {created["public_id"], b_contract.public_id}
    assert ids(date_to="2025-12-31") == {two.json()["public_id"]}
    assert ids(amount_min="1000", amount_max="2000000") == {created["public_id"]}
    assert ids(counterparty="Beta") == {b_contract.public_id}
    assert ids(q="二人") == {two.json()["public_id"]}
    assert ids(q=contract.reference) == {created["public_id"]}
    assert ids(status="cancelled") == set()
    paged = api.get("/contracts", params={"limit": 1, "offset": 1}).json()
    assert paged["count"] == 3 and len(paged["items"]) == 1 and paged["limit"] == 1

    # Status.
    detail = api.get(f"/contracts/{contract.public_id}")
    assert detail.status_code == 200 and detail.json() == created | {
        "signatories": detail.json()["signatories"]
    }

    # Download: the bytes of the newest version, audited with the key as the actor.
    download = api.get(f"/contracts/{contract.public_id}/document")
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]
    assert hashlib.sha256(download.content).hexdigest() == v0["sha256"]
    assert download.headers["X-Keiin-SHA256"] == v0["sha256"]
    audited = AuditEvent.objects.get(
        action="contract.downloaded", target=f"contract:{contract.public_id}"
    )
    assert audited.actor == "api:erp" and audited.data["sha256"] == v0["sha256"]
    assert api.get(f"/contracts/{contract.public_id}/document?version=0").status_code == 200
    missing = api.get(f"/contracts/{contract.public_id}/document?version=7")
    assert missing.status_code == 404 and missing.json() == {"detail": "no such version"}

    # Cancel, with a reason; a second time it is a conflict.
    cancelled = api.post(f"/contracts/{contract.public_id}/cancel", json={"reason": "条件変更"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["close_reason"] == "条件変更"
    assert cancelled.json()["signatories"][0]["status"] == "skipped"
    contract.refresh_from_db()
    assert contract.status == Contract.Status.CANCELLED
    again = api.post(f"/contracts/{contract.public_id}/cancel", json={"reason": "again"})
    assert again.status_code == 409 and "already closed" in again.json()["detail"]
    assert events.get(action="contract.cancelled").actor == "api:erp"
    assert events.get(action="api.contract.cancelled").actor == "api:erp"
    assert ids(status="cancelled") == {contract.public_id}


def test_completed_contract_download_matches_the_original(api_world, live_server):
    """After sealing (the console's step) the API reports the new state and versions."""
    from keiin.web.contracts import services

    api = Api(live_server.url, api_world.key_a)
    created = _create(api, api_world)
    assert created.status_code == 201, created.text
    contract = Contract.objects.get(public_id=created.json()["public_id"])
    services.seal(contract, api_world.world.manager, SEAL_PIN)
    detail = api.get(f"/contracts/{contract.public_id}").json()
    assert detail["status"] == "signing" and detail["registered_at"]
    assert [v["kind"] for v in detail["versions"]] == ["uploaded", "certified"]
    assert detail["versions"][1]["validation"] == "passed"
    assert detail["signatories"][0]["status"] == "waiting"
    body = api.get(f"/contracts/{contract.public_id}/document").content
    assert hashlib.sha256(body).hexdigest() == detail["versions"][1]["sha256"]
    # As if the last signature completed it: the newest version is the original.
    latest = contract.latest_version()
    Contract.objects.filter(pk=contract.pk).update(
        status=Contract.Status.COMPLETED, original_sha256=latest.sha256, closed_at=timezone.now()
    )
    detail = api.get(f"/contracts/{contract.public_id}").json()
    assert detail["original_sha256"] == latest.sha256
    body = api.get(f"/contracts/{contract.public_id}/document").content
    assert hashlib.sha256(body).hexdigest() == detail["original_sha256"]
    assert api.post(
        f"/contracts/{contract.public_id}/cancel", json={"reason": "x"}
    ).status_code == (409)


def test_bad_input_is_a_4xx_with_a_reason(api_world, live_server):
    api = Api(live_server.url, api_world.key_all)
    before = Contract.objects.count()

    def refused(response: requests.Response, status: int = 422) -> object:
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        return response.json()["detail"]

    assert refused(_create(api, api_world, pdf=b"hello, not a pdf")) == (
        "not a PDF file (no %PDF- header)"
    )
    assert refused(_create(api, api_world, pdf=b"%PDF-1.7\n garbage")).startswith("the PDF")
    assert refused(_create(api, api_world, pdf=b"")) == "the file is empty"
    assert refused(_create(api, api_world, partner_id="999999")) == "unknown partner"
    # B's signatory on A's contract, and an unknown person: the same refusal, no names.
    wrong = refused(_create(api, api_world, signatories=[str(api_world.signatory_b.pk)]))
    assert wrong == f"not signatories of this partner: {api_world.signatory_b.pk}"
    assert api_world.signatory_b.login_id not in wrong
    assert refused(_create(api, api_world, signatories=["88888888"])).startswith("not signatories")
    assert refused(_create(api, api_world, signatories=[str(api_world.world.manager.pk)]))
    twice = [str(api_world.signatory_a.pk)] * 2
    assert "twice" in refused(_create(api, api_world, signatories=twice))
    past = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert "future" in refused(_create(api, api_world, sign_by=past))
    assert "end date" in refused(
        _create(api, api_world, starts_on="2027-01-01", ends_on="2026-01-01")
    )
    for field, value in (
        ("contract_date", "2026-13-01"),
        ("contract_date", None),
        ("amount", "-5"),
        ("amount", "1e99"),
        ("amount", "10000000000000000"),
        ("title", ""),
        ("title", "x" * 201),
        ("title", "nul\x00"),
        ("partner_id", "abc"),
        ("partner_id", "99999999999999999999999"),
        ("signatories", "1,2"),
        ("signatories", []),
        ("signatories", [str(i) for i in range(1, 12)]),
        ("sign_by", "tomorrow"),
        ("allow_signed", "maybe"),
    ):
        detail = refused(_create(api, api_world, **{field: value}))
        assert isinstance(detail, list) and detail[0]["loc"], (field, value, detail)
    # A far-future date that overflows the default retention: 422, not 500.
    assert refused(
        _create(
            api,
            api_world,
            contract_date="9995-01-01",
            ends_on=None,
            starts_on=None,
            sign_by="9999-01-01T00:00:00+09:00",
        )
    )
    # Dates at the very ends of the calendar: refused or accepted, never a server error.
    edges = [
        _create(api, api_world, sign_by=sign_by)
        for sign_by in ("9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59", "0001-01-01T00:00Z")
    ] + [_create(api, api_world, retention_until=day) for day in ("0001-01-01", "9999-12-31")]
    assert [r.status_code for r in edges] == [422, 201, 422, 422, 201], [r.text for r in edges]
    # No file at all, not multipart at all.
    no_file = api.post("/contracts", data=_fields(api_world))
    assert any(e["loc"][-1] == "file" for e in refused(no_file))
    as_json = api.post("/contracts", json=dict(_fields(api_world)))
    assert as_json.status_code in (400, 422)
    # Cancel: malformed JSON, form data, missing or blank reason, unknown contract.
    contract = api_world.world.draft()
    url = f"/contracts/{contract.public_id}/cancel"
    assert refused(api.post(url, data=b"{", headers={"Content-Type": "application/json"}), 400)
    assert refused(api.post(url, data={"reason": "x"}), 400)
    assert refused(api.post(url, json={}))
    assert refused(api.post(url, json=["reason"]))
    assert refused(api.post(url, json={"reason": "   "})) == "a reason is required"
    assert refused(api.post(url, json={"reason": 5}))
    assert refused(api.post(url, json={"reason": "x" * 2001}))
    assert refused(
        api.post(url, data=b"\xff\xfe", headers={"Content-Type": "application/json"}), 400
    )
    for public_id in ("0" * 32, "nothing", "%00", "A" * 32, "0" * 33):
        assert refused(api.get(f"/contracts/{public_id}"), 404) == "no such contract"
        assert refused(api.post(f"/contracts/{public_id}/cancel", json={"reason": "x"}), 404)
    for query in (
        {"date_from": "yesterday"},
        {"limit": "0"},
        {"limit": "201"},
        {"offset": "-1"},
        {"status": "gone"},
        {"amount_min": "-1"},
        {"q": "\x00"},
        {"date_from": "2026-02-01", "date_to": "2026-01-01"},
        {"amount_min": "10", "amount_max": "5"},
        {"offset": str(10**20)},
    ):
        refused(api.get("/contracts", params=query))
    assert refused(api.get(f"/contracts/{contract.public_id}/document?version=x"))
    assert refused(api.get(f"/contracts/{contract.public_id}/document?version=-1"))
    # Wrong methods.
    assert api.session.delete(api.base + "/contracts", timeout=10).status_code == 405
    assert api.session.put(api.base + url, timeout=10).status_code == 405
    contract.refresh_from_db()
    assert contract.status == Contract.Status.DRAFT
    assert Contract.objects.count() == before + 3  # the two edge cases and the direct draft


def test_a_partner_scoped_key_never_reaches_another_partners_contracts(api_world, live_server):
    a_contract = api_world.world.draft()
    b_contract = api_world.draft_b()
    b_signer_state = list(ContractSigner.objects.filter(contract=b_contract).values())
    api_a = Api(live_server.url, api_world.key_a)
    api_b = Api(live_server.url, api_world.key_b)
    api_all = Api(live_server.url, api_world.key_all)
    unknown = api_a.get("/contracts/" + "f" * 32)
    assert unknown.status_code == 404

    listing = api_a.get("/contracts").json()
    assert [i["public_id"] for i in listing["items"]] == [a_contract.public_id]
    assert listing["count"] == 1
    assert api_a.get("/contracts", params={"counterparty": "Beta"}).json()["count"] == 0
    assert "Beta" not in api_a.get("/contracts").text
    assert api_a.get("/contracts", params={"q": b_contract.reference}).json()["items"] == []
    for response in (
        api_a.get(f"/contracts/{b_contract.public_id}"),
        api_a.get(f"/contracts/{b_contract.public_id}/document"),
        api_a.get(f"/contracts/{b_contract.public_id}/document?version=0"),
        api_a.post(f"/contracts/{b_contract.public_id}/cancel", json={"reason": "x"}),
    ):
        assert response.status_code == 404
        assert response.text == unknown.text  # not even the body tells B's contract exists
        assert b_contract.title not in response.text and "Beta" not in response.text
    # Creating for B with A's key: refused as if B did not exist.
    created = _create(
        api_a,
        api_world,
        partner_id=str(api_world.partner_b.pk),
        signatories=[str(api_world.signatory_b.pk)],
    )
    assert created.status_code == 422 and created.json() == {"detail": "unknown partner"}
    b_contract.refresh_from_db()
    assert b_contract.status == Contract.Status.DRAFT
    assert list(ContractSigner.objects.filter(contract=b_contract).values()) == b_signer_state
    assert ContractVersion.objects.filter(contract=b_contract).count() == 1
    assert not AuditEvent.objects.filter(
        target=f"contract:{b_contract.public_id}", actor__startswith="api:"
    ).exists()
    # B's key sees B's contract only; the unscoped key sees both.
    assert [i["public_id"] for i in api_b.get("/contracts").json()["items"]] == [
        b_contract.public_id
    ]
    assert api_b.get(f"/contracts/{a_contract.public_id}").status_code == 404
    assert api_b.get(f"/contracts/{b_contract.public_id}").status_code == 200
    assert api_all.get("/contracts").json()["count"] == 2
    # A's partner users with a session get nothing from the API at all.
    from tests.support.partners import client_for

    partner_client = client_for(api_world.signatory_a)
    assert partner_client.get("/api/v1/contracts").status_code == 401
    assert partner_client.get(f"/api/v1/contracts/{a_contract.public_id}").status_code == 401


def test_a_key_whose_owner_is_no_longer_a_manager_cannot_create(api_world):
    manager = api_world.world.manager
    User.objects.filter(pk=manager.pk).update(role=Role.OPERATOR_ADMIN)
    client = Client()
    response = client.post(
        "/api/v1/contracts",
        {**dict(_fields(api_world)), "file": _upload()},
        HTTP_AUTHORIZATION=f"Bearer {api_world.key_all}",
    )
    assert response.status_code == 403, response.content
    assert json.loads(response.content)["detail"].startswith("only a contract manager")
    # Reading still works (operator staff).
    assert (
        client.get(
            "/api/v1/contracts", HTTP_AUTHORIZATION=f"Bearer {api_world.key_all}"
        ).status_code
        == 200
    )


def _upload():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("k.pdf", minimal_pdf(), content_type="application/pdf")
