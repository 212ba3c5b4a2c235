"""Contract endings, reminders, uploads refused, search, retention and the integrity job."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from keiin.web.audit.models import AuditEvent
from keiin.web.contracts import integrity, retention, services
from keiin.web.contracts.files import UploadError, blob_store
from keiin.web.contracts.models import Contract, ContractSigner, ContractVersion, RetentionError
from keiin.web.contracts.search import search
from tests.support.contracts import SEAL_PIN, SIGNER_PIN
from tests.support.partners import client_for
from tests.unit.pdf.support import minimal_pdf

pytest_plugins = ["tests.support.smtp", "tests.support.contract_world"]
pytestmark = pytest.mark.django_db(transaction=True)


def _sealed(world, **overrides):
    contract = world.draft(**overrides)
    services.seal(contract, world.manager, SEAL_PIN)
    contract.refresh_from_db()
    assert contract.status == Contract.Status.SIGNING
    return contract


# --------------------------------------------------------------------------- uploads


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, not a pdf at all", "not a PDF"),
        (b"%PDF-1.7\n garbage garbage", "cannot be read"),
        (minimal_pdf(1, encrypt=True), "encrypted"),
    ],
)
def test_bad_uploads_are_refused_and_leave_nothing(contract_world, data, message):
    world = contract_world
    with pytest.raises(UploadError, match=message):
        services.create_contract(world.terms(), BytesIO(data), creator=world.manager)
    assert not Contract.objects.exists()
    assert not ContractVersion.objects.exists()


def test_too_large_upload_is_refused_by_the_form(contract_world, settings):
    world = contract_world
    settings.KEIIN_CONTRACT_MAX_BYTES = 1000
    client = client_for(world.manager)
    response = client.post(
        f"/console/contracts/new/{world.partner.pk}/",
        {
            "title": "大きすぎる契約書",
            "contract_date": "2026-11-01",
            "signatory_1": str(world.signatory.pk),
            "file": SimpleUploadedFile("big.pdf", minimal_pdf(3) + b"\0" * 2000),
        },
    )
    assert response.status_code == 400
    assert "larger than the limit" in response.content.decode()
    assert not Contract.objects.exists()


def test_signed_pdfs_need_permission_and_must_be_intact(contract_world):
    world = contract_world
    contract = _sealed(world)
    with blob_store().open(contract.latest_version().sha256) as f:
        signed = f.read()
    with pytest.raises(UploadError, match="already signed"):
        world.draft(pdf=signed)
    # Allowed, but tampered: one byte inside the signed range changed.
    index = signed.index(b"Contract page 1")
    tampered = signed[:index] + b"X" + signed[index + 1 :]
    with pytest.raises(UploadError, match="changed after it was signed"):
        services.create_contract(
            world.terms(), BytesIO(tampered), creator=world.manager, allow_signed=True
        )
    assert Contract.objects.count() == 1


def test_terms_are_checked(contract_world):
    world = contract_world
    with pytest.raises(services.ContractError, match="signatory"):
        world.draft(signatories=[])
    with pytest.raises(services.ContractError, match="not a signatory"):
        world.draft(signatories=[world.manager])
    with pytest.raises(services.ContractError, match="future"):
        world.draft(sign_by=timezone.now() - dt.timedelta(minutes=1))
    with pytest.raises(services.ContractError, match="before the start"):
        world.draft(starts_on=dt.date(2027, 1, 1), ends_on=dt.date(2026, 1, 1))
    with pytest.raises(services.ContractError, match="only operator staff"):
        services.create_contract(world.terms(), BytesIO(minimal_pdf()), creator=world.signatory)
    assert not Contract.objects.exists()


def test_only_contract_managers_use_the_seal(contract_world):
    from keiin.web.accounts.models import Role, User

    world = contract_world
    admin = User.objects.create_user(
        "admin", "admin@operator.example.jp", "pw-admin-long-enough", role=Role.OPERATOR_ADMIN
    )
    contract = world.draft()
    with pytest.raises(services.ContractError, match="contract manager"):
        services.seal(contract, admin, SEAL_PIN)
    response = client_for(admin).post(
        f"/console/contracts/{contract.public_id}/",
        {"action": "seal", "pin": SEAL_PIN, "confirm": "on"},
    )
    assert response.status_code == 403
    contract.refresh_from_db()
    assert contract.status == Contract.Status.DRAFT


# --------------------------------------------------------------------------- endings


def test_decline_closes_and_tells_the_operator(contract_world, smtp_server):
    world = contract_world
    contract = _sealed(world)
    client = client_for(world.signatory)
    url = f"/p/{world.partner.login_slug}/contracts/{contract.public_id}/"
    assert client.post(url, {"action": "decline", "reason": ""}).status_code == 400
    response = client.post(url, {"action": "decline", "reason": "金額が違います"})
    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.status == Contract.Status.DECLINED
    assert contract.close_reason == "金額が違います"
    assert ContractSigner.objects.get(contract=contract).status == ContractSigner.Status.DECLINED
    assert "金額が違います" in smtp_server.last_to(world.manager.email).body
    with pytest.raises(services.ContractError):
        services.sign(contract, world.signatory, SIGNER_PIN)


def test_cancel_before_completion_only(contract_world, smtp_server):
    world = contract_world
    contract = _sealed(world)
    client = client_for(world.manager)
    url = f"/console/contracts/{contract.public_id}/"
    response = client.post(url, {"action": "cancel", "reason": "条件変更のため"})
    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.status == Contract.Status.CANCELLED
    assert "条件変更のため" in smtp_server.last_to(world.signatory.email).body
    assert client.post(url, {"action": "cancel", "reason": "again"}).status_code == 400


def test_reminders_then_expiry(contract_world, smtp_server):
    world = contract_world
    contract = _sealed(world, sign_by=timezone.now() + dt.timedelta(days=5))
    smtp_server.clear()
    assert services.tick()["reminded"] == 0  # 5 days left: nothing yet
    in_3_days = contract.sign_by - dt.timedelta(days=3) + dt.timedelta(minutes=1)
    assert services.tick(in_3_days)["reminded"] == 1
    assert services.tick(in_3_days)["reminded"] == 0  # once per step
    assert services.tick(contract.sign_by - dt.timedelta(hours=20))["reminded"] == 1
    reminders = smtp_server.to(world.signatory.email)
    assert len(reminders) == 2 and contract.reference in reminders[-1].body
    assert services.tick(contract.sign_by + dt.timedelta(seconds=1))["expired"] == 1
    contract.refresh_from_db()
    assert contract.status == Contract.Status.EXPIRED
    assert ContractSigner.objects.get(contract=contract).status == ContractSigner.Status.SKIPPED
    assert smtp_server.last_to(world.manager.email).body.count(contract.reference) >= 1


def test_tick_recovers_a_signature_left_unvalidated(contract_world):
    """A crash between storing a signed version and validating it: the job finishes it."""
    world = contract_world
    contract = world.draft()
    original_advance = services.advance
    try:
        services.advance = lambda c: c  # the process "dies" right after the sealed version
        services.seal(contract, world.manager, SEAL_PIN)
    finally:
        services.advance = original_advance
    contract.refresh_from_db()
    assert contract.status == Contract.Status.DRAFT
    assert contract.latest_version().validation == ""
    assert services.tick()["advanced"] == 1
    contract.refresh_from_db()
    assert contract.status == Contract.Status.SIGNING
    assert contract.current_signer().user == world.signatory


# --------------------------------------------------------------------------- search


def test_search_by_date_amount_counterparty(contract_world):
    world = contract_world
    a = world.draft(title="A", contract_date=dt.date(2026, 1, 10), amount=Decimal(100_000))
    b = world.draft(title="B", contract_date=dt.date(2026, 6, 10), amount=Decimal(5_000_000))
    c = world.draft(title="C", contract_date=dt.date(2025, 6, 10), amount=None)

    def found(**criteria):
        return {x.title for x in search(Contract.objects.all(), criteria)}

    assert found() == {"A", "B", "C"}
    assert found(date_from=dt.date(2026, 1, 1)) == {"A", "B"}
    assert found(date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 3, 1)) == {"A"}
    assert found(amount_min=Decimal(1_000_000)) == {"B"}
    assert found(amount_max=Decimal(1_000_000)) == {"A"}
    assert found(counterparty="取引先") == {"A", "B", "C"}
    assert found(counterparty="Torihikisaki") == {"A", "B", "C"}
    assert found(counterparty="どこにもない") == set()
    assert found(q=c.reference) == {"C"}
    client = client_for(world.manager)
    page = client.get("/console/contracts/", {"amount_min": "1000000"}).content.decode()
    assert b.reference in page and a.reference not in page
    bad = client.get("/console/contracts/", {"date_from": "2026-13-45"})
    assert bad.status_code == 400


# --------------------------------------------------------------------------- keeping


def test_no_deletion_before_the_retention_period_ends(contract_world):
    world = contract_world
    contract = world.draft(ends_on=dt.date(2027, 11, 30))
    sha = contract.latest_version().sha256
    with pytest.raises(RetentionError):
        contract.delete()
    with pytest.raises(RetentionError):
        Contract.objects.all().delete()
    with pytest.raises(RetentionError):
        ContractVersion.objects.filter(contract=contract).delete()
    with pytest.raises(RetentionError, match="still open"):
        retention.purge(contract, actor="test", today=dt.date(2040, 1, 1))
    services.cancel(contract, world.manager, "test")
    with pytest.raises(RetentionError, match="must be kept until 2037-11-30"):
        retention.purge(contract, actor="test", today=dt.date(2037, 11, 30))
    assert blob_store().exists(sha)
    assert retention.purge(contract, actor="test", today=dt.date(2037, 12, 1)) == 1
    assert not Contract.objects.exists() and not blob_store().exists(sha)
    assert AuditEvent.objects.filter(action="contract.purged").exists()


def test_integrity_job_finds_a_changed_original(contract_world):
    world = contract_world
    contract = world.draft()
    assert list(integrity.check_all()) == []
    path = blob_store().path(contract.latest_version().sha256)
    os.chmod(path, 0o600)
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    findings = list(integrity.check_all())
    assert [(f.reference, f.problem) for f in findings] == [(contract.reference, "mismatch")]
    assert AuditEvent.objects.filter(action="contract.integrity_failed").count() == 1
