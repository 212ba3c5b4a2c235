"""A contract from upload to the kept original, through the pages a person uses (seed 11-13):
the manager uploads and seals, the signatory is mailed, reads, signs with the PIN, the
operator's check validates, the contract completes and copies are downloaded (audited)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from keiin.web.audit.models import AuditEvent
from keiin.web.contracts import services
from keiin.web.contracts.files import blob_store
from keiin.web.contracts.models import Contract, ContractSigner, ContractVersion
from keiin.web.credentials import services as credential_services
from keiin.web.credentials.models import SignerCredential
from tests.support.contracts import SEAL_PIN, SIGNER_PIN, WRONG_PIN
from tests.support.partners import client_for
from tests.unit.pdf.support import minimal_pdf

pytest_plugins = ["tests.support.smtp", "tests.support.contract_world"]
pytestmark = pytest.mark.django_db(transaction=True)

PADES_CHECK = Path(__file__).resolve().parents[3] / "shared" / "checks" / "pades-check.py"


def _events(contract: Contract) -> list[str]:
    return list(
        AuditEvent.objects.filter(target=f"contract:{contract.public_id}")
        .order_by("seq")
        .values_list("action", flat=True)
    )


def _upload(client: Client, world, pdf: bytes, **extra: str):
    data = {
        "title": "業務委託契約書",
        "contract_date": "2026-11-01",
        "amount": "1234567",
        "starts_on": "2026-12-01",
        "ends_on": "2027-11-30",
        "signatory_1": str(world.signatory.pk),
        "file": SimpleUploadedFile("keiyaku.pdf", pdf, content_type="application/pdf"),
        **extra,
    }
    return client.post(f"/console/contracts/new/{world.partner.pk}/", data)


def test_upload_seal_sign_complete_download(contract_world, smtp_server, tmp_path):
    world = contract_world
    manager = client_for(world.manager)
    response = _upload(manager, world, minimal_pdf(2))
    assert response.status_code == 302, response.content.decode()[:3000]
    contract = Contract.objects.get()
    assert response["Location"].endswith(f"/console/contracts/{contract.public_id}/")
    assert contract.status == Contract.Status.DRAFT
    assert contract.amount == 1234567
    assert contract.retention_until == dt.date(2037, 11, 30)  # 10 years after the end
    v0 = contract.versions.get()
    assert v0.kind == ContractVersion.Kind.UPLOADED and blob_store().verify(v0.sha256)
    # The partner does not see drafts.
    signatory = client_for(world.signatory)
    detail = f"/p/{world.partner.login_slug}/contracts/{contract.public_id}/"
    assert signatory.get(detail).status_code == 404

    # A wrong seal PIN signs nothing; the right one seals and registers.
    response = manager.post(
        f"/console/contracts/{contract.public_id}/",
        {"action": "seal", "pin": WRONG_PIN, "confirm": "on"},
    )
    assert response.status_code == 400
    assert "wrong PIN" in response.content.decode()
    contract.refresh_from_db()
    assert contract.status == Contract.Status.DRAFT and contract.versions.count() == 1
    response = manager.post(
        f"/console/contracts/{contract.public_id}/",
        {"action": "seal", "pin": SEAL_PIN, "confirm": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    contract.refresh_from_db()
    assert contract.status == Contract.Status.SIGNING, contract.versions.last().validation_report
    v1 = contract.latest_version()
    assert v1.kind == ContractVersion.Kind.CERTIFIED
    assert v1.validation == ContractVersion.Validation.PASSED, v1.validation_report
    assert SignerCredential.objects.get(pk=world.seal.pk).pin_failures == 0

    # The signatory is told by e-mail, with a link to the contract.
    mail = smtp_server.last_to(world.signatory.email)
    assert contract.reference in mail.body
    link = smtp_server.link_to(world.signatory.email, f"/contracts/{contract.public_id}/")
    page = signatory.get(link)
    assert page.status_code == 200
    html = page.content.decode()
    assert contract.title in html and "¥1,234,567" in html

    # Signing before opening the document is refused; opening it counts as reading it.
    response = signatory.post(detail, {"action": "sign", "pin": SIGNER_PIN, "read": "on"})
    assert response.status_code == 400
    document = signatory.get(detail + "document/")
    assert document.status_code == 200 and document["Content-Type"] == "application/pdf"
    assert b"".join(document.streaming_content).startswith(b"%PDF-")
    assert document["X-Frame-Options"] == "SAMEORIGIN"
    # A wrong PIN never signs.
    response = signatory.post(detail, {"action": "sign", "pin": WRONG_PIN, "read": "on"})
    assert response.status_code == 400
    contract.refresh_from_db()
    assert contract.versions.count() == 2
    response = signatory.post(detail, {"action": "sign", "pin": SIGNER_PIN, "read": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]

    contract.refresh_from_db()
    assert contract.status == Contract.Status.COMPLETED
    v2 = contract.latest_version()
    assert v2.kind == ContractVersion.Kind.SIGNED
    assert v2.validation == ContractVersion.Validation.PASSED, v2.validation_report
    assert contract.original_sha256 == v2.sha256
    assert ContractSigner.objects.get(contract=contract).status == ContractSigner.Status.SIGNED
    report = v2.validation_report
    assert {s["indication"] for s in report["signatures"]} == {"TOTAL-PASSED"}
    assert "concluded" in smtp_server.last_to(world.manager.email).subject.lower() or (
        "締結" in smtp_server.last_to(world.manager.email).subject
    )

    # Download a copy (audited): the bytes are the original's.
    download = signatory.get(detail + "download/")
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    body = b"".join(download.streaming_content)
    import hashlib

    assert hashlib.sha256(body).hexdigest() == contract.original_sha256
    events = _events(contract)
    for action in (
        "contract.created",
        "contract.sealed",
        "contract.validated",
        "contract.sign_requested",
        "contract.viewed",
        "contract.signed",
        "contract.completed",
        "contract.downloaded",
    ):
        assert action in events, (action, events)
    assert events.index("contract.sealed") < events.index("contract.signed")
    # The console shows every version and the history.
    console = manager.get(f"/console/contracts/{contract.public_id}/")
    assert console.status_code == 200
    assert all(f'data-version="{n}"' in console.content.decode() for n in (0, 1, 2))

    # The independent check: pyHanko LTA validation, openssl cms per signature, qpdf.
    if PADES_CHECK.exists():
        out = tmp_path / "signed.pdf"
        out.write_bytes(body)
        root = tmp_path / "root.pem"
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        from keiin.web.ca.models import CertificateAuthority

        der = bytes(CertificateAuthority.objects.get(parent__isnull=True).certificate_der)
        root.write_bytes(
            x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
        )
        check = subprocess.run(
            [sys.executable, str(PADES_CHECK), str(out), str(root), "--expect-signatures", "2"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert re.search(r"\b0 failed", check.stdout), check.stdout


def test_signatories_sign_in_order(contract_world, smtp_server):
    world = contract_world
    from tests.support.partners import register

    second_reg = register(smtp_server, name_en="Torihikisaki K.K.", email="ni@example.jp")
    # register() makes a new partner; move the person into the first partner as a signatory.
    second = second_reg.user
    second.partner = world.partner
    second.save(update_fields=["partner"])
    second_credential = credential_services.request_certificate(
        second, SIGNER_PIN, credential_services.Receipt("192.0.2.9", "pytest")
    )
    assert second_credential.status == SignerCredential.Status.ACTIVE
    contract = world.draft(signatories=[world.signatory, second])
    services.seal(contract, world.manager, SEAL_PIN)
    contract.refresh_from_db()
    first, other = contract.signers.order_by("position")
    assert (first.status, other.status) == ("waiting", "pending")
    assert not smtp_server.to(second.email) or all(
        contract.reference not in m.body for m in smtp_server.to(second.email)
    )
    latest = contract.latest_version()
    services.mark_viewed(contract, second, latest)
    with pytest.raises(services.ContractError, match="not your turn"):
        services.sign(contract, second, SIGNER_PIN)
    services.mark_viewed(contract, world.signatory, latest)
    services.sign(contract, world.signatory, SIGNER_PIN)
    contract.refresh_from_db()
    assert contract.status == Contract.Status.SIGNING
    assert contract.current_signer().user == second
    assert contract.reference in smtp_server.last_to(second.email).body
    # The second signatory must open the *new* version before signing.
    with pytest.raises(services.ContractError, match="read the whole document"):
        services.sign(contract, second, SIGNER_PIN)
    services.mark_viewed(contract, second, contract.latest_version())
    services.sign(contract, second, SIGNER_PIN)
    contract.refresh_from_db()
    assert contract.status == Contract.Status.COMPLETED
    assert [v.kind for v in contract.versions.order_by("number")] == [
        "uploaded",
        "certified",
        "signed",
        "signed",
    ]
    assert all(v.validation == "passed" for v in contract.versions.exclude(kind="uploaded")), [
        v.validation_report for v in contract.versions.all()
    ]


def test_locked_and_revoked_credentials_cannot_sign(contract_world):
    world = contract_world
    contract = world.draft()
    services.seal(contract, world.manager, SEAL_PIN)
    contract.refresh_from_db()
    services.mark_viewed(contract, world.signatory, contract.latest_version())
    for _ in range(5):
        with pytest.raises(credential_services.PinRejectedError):
            services.sign(contract, world.signatory, WRONG_PIN)
    with pytest.raises(credential_services.CredentialError, match="locked"):
        services.sign(contract, world.signatory, SIGNER_PIN)
    contract.refresh_from_db()
    assert contract.versions.count() == 2 and contract.status == Contract.Status.SIGNING
    assert contract.current_signer().signing_since is None  # the claim was released
    from keiin.pki.revocation import RevocationReason

    credential_services.revoke_credential(
        world.credential, RevocationReason.KEY_COMPROMISE, actor="test"
    )
    with pytest.raises(services.ContractError, match="no signature certificate"):
        services.sign(contract, world.signatory, SIGNER_PIN)
    assert contract.versions.count() == 2


def test_template_contract_is_sealed_and_signed(contract_world):
    from keiin.web.contracts.generate import create_from_template

    world = contract_world
    contract = create_from_template(
        world.terms(),
        "第1条（目的）\n本契約は、業務の委託について定める。\n\n第2条（報酬）\n甲は乙に報酬を支払う。",
        creator=world.manager,
    )
    assert contract.source == Contract.Source.TEMPLATE
    assert {e["name"] for e in contract.layout} == {"Keiin_Seal", "Signatory_1"}
    services.seal(contract, world.manager, SEAL_PIN)
    contract.refresh_from_db()
    services.mark_viewed(contract, world.signatory, contract.latest_version())
    services.sign(contract, world.signatory, SIGNER_PIN)
    contract.refresh_from_db()
    assert contract.status == Contract.Status.COMPLETED, contract.latest_version().validation_report
