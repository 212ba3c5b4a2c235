"""The contract lifecycle (seed clauses 11-13), the only code that changes contracts.

::

    draft ──seal──▶ signing ──last signature validates──▶ completed
      │               │ │ └──a signature does not validate──▶ invalid ──cancel──▶ cancelled
      │               │ └──decline──▶ declined
      └──cancel───────┴──cancel──▶ cancelled          (draft/signing past sign_by ──▶ expired)

* :func:`create_contract` stores the PDF (uploaded or generated) as version 0.
* :func:`seal` — a contract manager's certification signature with the organisation seal
  (DocMDP: form filling and signatures allowed; B-T + revocation data). The contract is then
  registered and the first signatory is mailed (seed 11(1)-(2)).
* :func:`sign` — the signatory whose turn it is signs with their PIN, after opening the whole
  document (seed 11(3)): PAdES B-LTA.
* After every signature :func:`advance` validates the new version offline against Keiin's roots
  and stores the report (seed 11(4)); only a version whose every signature validates moves the
  contract on; the last one completes it and makes that file the original (seed 13(2)).

PDF work happens outside any database transaction (Keiin's TSA logs each token on its own
connection first). A person's signing is *claimed* in a short transaction before, and recorded
in one after; a crash in between leaves only a stale claim (retried after
:data:`CLAIM_TTL`) and perhaps an unreferenced blob — never a half-signed contract. Every
change is audited and announced after commit (:mod:`keiin.web.contracts.notify`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from keiin.pdf import SignatureDetails, StampFontError, VisibleStamp, default_japanese_font
from keiin.pdf.errors import PdfInputError, PdfSigningError
from keiin.web.accounts.models import Role, User
from keiin.web.audit.log import record
from keiin.web.contracts import files, layout, notify
from keiin.web.contracts.models import Contract, ContractSigner, ContractVersion
from keiin.web.credentials import services as credentials
from keiin.web.credentials.models import SignerCredential
from keiin.web.partners.models import Partner

#: A signing claim older than this is considered abandoned (the process died mid-signature).
CLAIM_TTL = dt.timedelta(minutes=10)
#: Most signatories one contract can have.
MAX_SIGNATORIES = 10


class ContractError(Exception):
    """A refused contract operation; the message can be shown to the person."""


@dataclass(frozen=True)
class ContractTerms:
    """What the operator states about a new contract."""

    title: str
    partner: Partner
    signatories: list[User]
    contract_date: dt.date
    amount: Decimal | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    sign_by: dt.datetime | None = None
    retention_until: dt.date | None = None
    note: str = ""


def _actor(user: User) -> str:
    return f"user:{user.login_id}"


def _target(contract: Contract) -> str:
    return f"contract:{contract.public_id}"


def default_retention(contract_date: dt.date, ends_on: dt.date | None) -> dt.date:
    """``KEIIN_CONTRACT_RETENTION_YEARS`` (10) years after the end (or the contract date)."""
    base = ends_on or contract_date
    years = int(settings.KEIIN_CONTRACT_RETENTION_YEARS)
    if base.year + years > dt.MAXYEAR:
        raise ContractError("the dates are too far in the future")
    try:
        return base.replace(year=base.year + years)
    except ValueError:  # 29 February
        return base.replace(year=base.year + years, day=28)


def _check_terms(terms: ContractTerms) -> dt.datetime:
    if not terms.title.strip():
        raise ContractError("a title is required")
    if terms.partner.status != Partner.Status.ACTIVE:
        raise ContractError("the partner is not active")
    if not terms.signatories:
        raise ContractError("at least one signatory is required")
    if len(terms.signatories) > MAX_SIGNATORIES:
        raise ContractError(f"at most {MAX_SIGNATORIES} signatories")
    if len({u.pk for u in terms.signatories}) != len(terms.signatories):
        raise ContractError("a signatory is listed twice")
    for user in terms.signatories:
        if user.partner_id != terms.partner.pk or user.role != Role.SIGNATORY:
            raise ContractError("a chosen person is not a signatory of this partner")
        if not user.is_active:
            raise ContractError("a chosen signatory can no longer sign")
    if terms.amount is not None and terms.amount < 0:
        raise ContractError("the amount cannot be negative")
    if terms.starts_on and terms.ends_on and terms.ends_on < terms.starts_on:
        raise ContractError("the end date is before the start date")
    now = timezone.now()
    sign_by = terms.sign_by or now + dt.timedelta(days=int(settings.KEIIN_CONTRACT_SIGN_DAYS))
    if sign_by <= now:
        raise ContractError("the signing deadline must be in the future")
    retention = terms.retention_until or default_retention(terms.contract_date, terms.ends_on)
    if retention < (terms.ends_on or terms.contract_date):
        raise ContractError("the retention period cannot end before the contract does")
    return sign_by


def new_reference() -> str:
    """A fresh contract reference: ``C<yyyymmdd>-<6 hex>`` (unique; collisions retried)."""
    return f"C{timezone.localdate():%Y%m%d}-{secrets.token_hex(3).upper()}"


def create_contract(
    terms: ContractTerms,
    pdf: BinaryIO,
    *,
    creator: User,
    source: str = Contract.Source.UPLOAD,
    field_layout: list[dict[str, Any]] | None = None,
    allow_signed: bool = False,
    reference: str | None = None,
    actor: str | None = None,
) -> Contract:
    """Register a draft: the checked PDF is version 0 (raises ``ContractError`` or
    :class:`~keiin.web.contracts.files.UploadError`, leaving no record). ``actor`` names who
    did it in the audit log (default: the creator; e.g. ``api:<key>`` for the REST API)."""
    if not (creator.is_active and creator.is_staff):
        raise ContractError("only operator staff can create contracts")
    sign_by = _check_terms(terms)
    actor = actor or _actor(creator)
    ref = files.store_upload(pdf, allow_signed=allow_signed)
    fields = field_layout or layout.default_layout(len(terms.signatories))
    names = {entry["name"] for entry in fields}
    wanted = {layout.SEAL_FIELD} | {
        layout.signer_field(i) for i in range(1, len(terms.signatories) + 1)
    }
    if not wanted <= names:
        raise ContractError("the signature layout does not place every signature")
    for attempt in range(5):
        try:
            with transaction.atomic():
                contract = Contract.objects.create(
                    reference=reference if reference and attempt == 0 else new_reference(),
                    title=terms.title.strip()[:200],
                    partner=terms.partner,
                    contract_date=terms.contract_date,
                    amount=terms.amount,
                    starts_on=terms.starts_on,
                    ends_on=terms.ends_on,
                    sign_by=sign_by,
                    retention_until=terms.retention_until
                    or default_retention(terms.contract_date, terms.ends_on),
                    source=source,
                    note=terms.note,
                    created_by=creator,
                    layout=fields,
                    allow_signed=allow_signed,
                )
                break
        except IntegrityError:  # reference collision: draw again
            continue
    else:  # pragma: no cover - 5 collisions of 24 random bits on one day
        raise ContractError("could not allocate a reference; try again")
    with transaction.atomic():
        for position, user in enumerate(terms.signatories, start=1):
            ContractSigner.objects.create(
                contract=contract,
                position=position,
                user=user,
                field_name=layout.signer_field(position),
            )
        ContractVersion.objects.create(
            contract=contract,
            number=0,
            kind=ContractVersion.Kind.GENERATED
            if source == Contract.Source.TEMPLATE
            else ContractVersion.Kind.UPLOADED,
            sha256=ref.sha256_hex,
            size=ref.size,
            actor=actor,
        )
        record(
            "contract.created",
            actor=actor,
            target=_target(contract),
            data={
                "reference": contract.reference,
                "partner": contract.partner_id,
                "sha256": ref.sha256_hex,
                "size": ref.size,
                "signatories": [u.login_id for u in terms.signatories],
                "source": source,
            },
        )
        notify.after_commit(contract, "contract.created", actor=actor)
    return contract


# --------------------------------------------------------------------------- claims


def _stale(since: dt.datetime | None) -> bool:
    return since is None or timezone.now() - since > CLAIM_TTL


def _expire_if_due(contract: Contract) -> bool:
    """Inside a transaction holding the row: expire a contract past its deadline."""
    if contract.status in (Contract.Status.DRAFT, Contract.Status.SIGNING) and (
        timezone.now() > contract.sign_by
    ):
        _close(contract, Contract.Status.EXPIRED, actor="system", reason="signing deadline passed")
        return True
    return False


def _claim_seal(contract: Contract, user: User) -> Contract:
    with transaction.atomic():
        row = Contract.objects.select_for_update().get(pk=contract.pk)
        if _expire_if_due(row):
            raise ContractError("the signing deadline has passed; the contract expired")
        if row.status != Contract.Status.DRAFT:
            raise ContractError("the contract is not waiting for the operator's seal")
        if not _stale(row.sealing_since):
            raise ContractError("the contract is being sealed right now")
        if not row.partner.can_log_in:
            raise ContractError("the partner is not active")
        row.sealing_since = timezone.now()
        row.save(update_fields=["sealing_since"])
    return row


def _release_seal(contract: Contract) -> None:
    Contract.objects.filter(pk=contract.pk).update(sealing_since=None)


def _claim_signature(contract: Contract, user: User) -> tuple[Contract, ContractSigner]:
    with transaction.atomic():
        row = Contract.objects.select_for_update().get(pk=contract.pk)
        if _expire_if_due(row):
            raise ContractError("the signing deadline has passed; the contract expired")
        if row.status != Contract.Status.SIGNING:
            raise ContractError("the contract is not waiting for signatures")
        signer = row.current_signer()
        if signer is None or signer.user_id != user.pk:
            raise ContractError("it is not your turn to sign this contract")
        if not row.partner.can_log_in:
            raise ContractError("your company cannot sign at the moment")
        latest = row.latest_version()
        assert latest is not None
        if signer.viewed_version != latest.number:
            raise ContractError("open and read the whole document before signing")
        if latest.validation != ContractVersion.Validation.PASSED:
            raise ContractError("the document is being checked; try again in a moment")
        if not _stale(signer.signing_since):
            raise ContractError("a signature is already in progress")
        signer.signing_since = timezone.now()
        signer.save(update_fields=["signing_since"])
    return row, signer


# --------------------------------------------------------------------------- signing


def _stamp(name: str, company: str, field: str, contract: Contract) -> VisibleStamp:
    page, box = layout.placement(contract.layout, field)
    return VisibleStamp(
        name=name, company=company, font_path=default_japanese_font(), page=page, box=box
    )


def _signing_failed(contract: Contract, actor: str, what: str, exc: Exception) -> None:
    record(
        "contract.signing_failed",
        actor=actor,
        target=_target(contract),
        data={"step": what, "error": type(exc).__name__, "detail": str(exc)[:300]},
    )


def seal(contract: Contract, user: User, pin: str) -> ContractVersion:
    """The operator's certification signature with the organisation seal (see module doc).

    Raises :class:`ContractError`, or the credential errors of
    :func:`~keiin.web.credentials.services.open_for_signing` (wrong PIN, locked, revoked).
    """
    from keiin.pdf.signing import certify_file
    from keiin.web.signing import CaRevocationSource, keiin_timestamper, signer_for

    if not credentials.may_use_seal(user):
        raise ContractError("only a contract manager may use the organisation seal")
    seal_credential = credentials.live_seal()
    if seal_credential is None or seal_credential.status != SignerCredential.Status.ACTIVE:
        raise ContractError("the organisation seal is not available; create a new one")
    row = _claim_seal(contract, user)
    actor = _actor(user)
    try:
        base = row.latest_version()
        assert base is not None
        seal_subject = credentials.seal_subject()
        with (
            files.blob_store().open(base.sha256) as source,
            files.scratch_file() as (out_path, out),
            signer_for(seal_credential, pin, actor=actor, user=user) as signer,
        ):
            certify_file(
                source,
                out,
                signer,
                timestamper=keiin_timestamper(),
                field_name=layout.SEAL_FIELD,
                revinfo=CaRevocationSource(),
                stamp=_stamp(
                    seal_subject.common_name,
                    seal_subject.organization,
                    layout.SEAL_FIELD,
                    row,
                ),
                details=SignatureDetails(
                    reason="契約書の作成者として署名", name=seal_subject.common_name
                ),
                signature_fields=layout.signatory_fields(row.layout),
                tmp_dir=files.scratch_dir(),
            )
            out.flush()
            ref = files.store_file(out_path)
    except (PdfInputError, PdfSigningError, StampFontError) as exc:
        _release_seal(row)
        _signing_failed(row, actor, "seal", exc)
        raise ContractError(f"the document could not be sealed: {exc}") from None
    except BaseException:
        _release_seal(row)
        raise
    with transaction.atomic():
        row = Contract.objects.select_for_update().get(pk=row.pk)
        version = ContractVersion.objects.create(
            contract=row,
            number=base.number + 1,
            kind=ContractVersion.Kind.CERTIFIED,
            sha256=ref.sha256_hex,
            size=ref.size,
            actor=actor,
        )
        row.sealing_since = None
        row.save(update_fields=["sealing_since"])
        record(
            "contract.sealed",
            actor=actor,
            target=_target(row),
            data={
                "version": version.number,
                "sha256": ref.sha256_hex,
                "size": ref.size,
                "seal": seal_credential.credential_id,
            },
        )
    advance(row)
    return version


def sign(contract: Contract, user: User, pin: str) -> ContractVersion:
    """The signatory whose turn it is signs (PAdES B-LTA) with their PIN; see module doc."""
    from keiin.pdf.signing import approve_file
    from keiin.web.signing import CaRevocationSource, keiin_timestamper, signer_for

    credential = credentials.live_credential(user)
    if credential is None:
        raise ContractError("you have no signature certificate; request one first")
    row, signer = _claim_signature(contract, user)
    actor = _actor(user)
    try:
        base = row.latest_version()
        assert base is not None
        company = row.partner.company_name("ja")
        name = user.display_name or user.login_id
        with (
            files.blob_store().open(base.sha256) as source,
            files.scratch_file() as (out_path, out),
            signer_for(credential, pin, actor=actor, user=user) as pdf_signer,
        ):
            approve_file(
                source,
                out,
                pdf_signer,
                timestamper=keiin_timestamper(),
                revinfo=CaRevocationSource(),
                field_name=signer.field_name,
                stamp=_stamp(name, company, signer.field_name, row),
                details=SignatureDetails(reason="契約内容に同意して署名", name=name),
                tmp_dir=files.scratch_dir(),
            )
            out.flush()
            ref = files.store_file(out_path)
    except (PdfInputError, PdfSigningError, StampFontError) as exc:
        ContractSigner.objects.filter(pk=signer.pk).update(signing_since=None)
        _signing_failed(row, actor, "signature", exc)
        raise ContractError(f"the document could not be signed: {exc}") from None
    except BaseException:
        ContractSigner.objects.filter(pk=signer.pk).update(signing_since=None)
        raise
    now = timezone.now()
    with transaction.atomic():
        row = Contract.objects.select_for_update().get(pk=row.pk)
        version = ContractVersion.objects.create(
            contract=row,
            number=base.number + 1,
            kind=ContractVersion.Kind.SIGNED,
            sha256=ref.sha256_hex,
            size=ref.size,
            actor=actor,
            signer=signer,
        )
        ContractSigner.objects.filter(pk=signer.pk).update(
            status=ContractSigner.Status.SIGNED, signed_at=now, signing_since=None
        )
        record(
            "contract.signed",
            actor=actor,
            target=_target(row),
            data={
                "version": version.number,
                "position": signer.position,
                "sha256": ref.sha256_hex,
                "size": ref.size,
                "certificate": credential.certificate.serial_hex,
            },
        )
        notify.after_commit(
            row,
            "contract.signed",
            actor=actor,
            template="signed",
            to=notify.operator_people(row),
            data={"position": signer.position, "version": version.number},
            extra={"signer_name": name},
        )
    advance(row)
    return version


# --------------------------------------------------------------------------- validation


def advance(contract: Contract) -> Contract:
    """Validate the newest version if it is not yet, then move the contract on (idempotent;
    the periodic job calls it for contracts a crash left between the two steps)."""
    from keiin.web.contracts.validation import validate_version

    latest = contract.latest_version()
    if latest is None or latest.kind in (
        ContractVersion.Kind.UPLOADED,
        ContractVersion.Kind.GENERATED,
    ):
        return contract
    if latest.validation == ContractVersion.Validation.NONE:
        validate_version(latest)
        latest.refresh_from_db()
    with transaction.atomic():
        row = Contract.objects.select_for_update().get(pk=contract.pk)
        if row.is_closed or row.status == Contract.Status.INVALID:
            return row
        fresh = row.latest_version()
        if fresh is None or fresh.pk != latest.pk:
            return row  # someone else moved it on meanwhile
        if latest.validation != ContractVersion.Validation.PASSED:
            _mark_invalid(row, latest)
            return row
        if row.status == Contract.Status.DRAFT and latest.kind == ContractVersion.Kind.CERTIFIED:
            row.status = Contract.Status.SIGNING
            row.registered_at = timezone.now()
            row.save(update_fields=["status", "registered_at"])
            notify.after_commit(
                row, "contract.registered", actor="system", data={"version": latest.number}
            )
        if row.status == Contract.Status.SIGNING:
            _next_signer_or_complete(row, latest)
    return row


def _mark_invalid(row: Contract, version: ContractVersion) -> None:
    row.status = Contract.Status.INVALID
    row.save(update_fields=["status"])
    record(
        "contract.invalid",
        actor="system",
        target=_target(row),
        data={"version": version.number, "validation": version.validation},
    )
    notify.after_commit(
        row,
        "contract.invalid",
        actor="system",
        template="invalid",
        to=notify.operator_people(row),
        data={"version": version.number},
    )


def _next_signer_or_complete(row: Contract, latest: ContractVersion) -> None:
    if row.signers.filter(status=ContractSigner.Status.WAITING).exists():
        return  # already asked
    nxt = row.signers.filter(status=ContractSigner.Status.PENDING).order_by("position").first()
    now = timezone.now()
    if nxt is not None:
        ContractSigner.objects.filter(pk=nxt.pk).update(
            status=ContractSigner.Status.WAITING, notified_at=now
        )
        record(
            "contract.sign_requested",
            actor="system",
            target=_target(row),
            data={"position": nxt.position, "signatory": nxt.user.login_id},
        )
        notify.after_commit(
            row,
            "contract.sign_requested",
            actor="system",
            template="sign_request",
            to=[nxt.user],
            data={"position": nxt.position},
        )
        return
    row.status = Contract.Status.COMPLETED
    row.closed_at = now
    row.original_sha256 = latest.sha256
    row.save(update_fields=["status", "closed_at", "original_sha256"])
    record(
        "contract.completed",
        actor="system",
        target=_target(row),
        data={"version": latest.number, "sha256": latest.sha256, "size": latest.size},
    )
    notify.after_commit(
        row,
        "contract.completed",
        actor="system",
        template="completed",
        to=notify.everyone(row),
        data={"sha256": latest.sha256},
    )


# --------------------------------------------------------------------------- endings


def _close(row: Contract, status: str, *, actor: str, reason: str) -> None:
    """Inside a transaction holding the row: a terminal state other than completion."""
    old = row.status
    row.status = status
    row.closed_at = timezone.now()
    row.close_reason = reason[:2000]
    row.sealing_since = None
    row.save(update_fields=["status", "closed_at", "close_reason", "sealing_since"])
    ContractSigner.objects.filter(
        contract=row, status__in=(ContractSigner.Status.PENDING, ContractSigner.Status.WAITING)
    ).update(status=ContractSigner.Status.SKIPPED, signing_since=None)
    event = f"contract.{status}"
    record(event, actor=actor, target=_target(row), data={"from": old, "reason": reason[:2000]})
    told = notify.signers_told_so_far(row) if old != Contract.Status.DRAFT else []
    notify.after_commit(
        row,
        event,
        actor=actor,
        template=status,
        to=[*notify.operator_people(row), *told],
        data={"from": old, "reason": reason[:2000]},
        extra={"reason": reason},
    )


def decline(contract: Contract, user: User, reason: str) -> Contract:
    """A signatory of the contract declines to sign, with a reason."""
    reason = reason.strip()
    if not reason:
        raise ContractError("say why you decline")
    with transaction.atomic():
        row = Contract.objects.select_for_update().get(pk=contract.pk)
        if row.status != Contract.Status.SIGNING:
            raise ContractError("the contract is not waiting for signatures")
        signer = row.signers.filter(user=user).first()
        if signer is None or signer.status not in (
            ContractSigner.Status.PENDING,
            ContractSigner.Status.WAITING,
        ):
            raise ContractError("you cannot decline this contract")
        if not _stale(signer.signing_since):
            raise ContractError("a signature is in progress")
        ContractSigner.objects.filter(pk=signer.pk).update(
            status=ContractSigner.Status.DECLINED, decline_reason=reason[:2000]
        )
        _close(row, Contract.Status.DECLINED, actor=_actor(user), reason=reason)
    return row


def cancel(contract: Contract, user: User, reason: str, *, actor: str | None = None) -> Contract:
    """Operator staff cancel a contract before it is completed, with a reason (``actor``:
    who, in the audit log; default the user)."""
    if not (user.is_active and user.is_staff):
        raise ContractError("only operator staff can cancel contracts")
    reason = reason.strip()
    if not reason:
        raise ContractError("say why the contract is cancelled")
    with transaction.atomic():
        row = Contract.objects.select_for_update().get(pk=contract.pk)
        if row.is_closed:
            raise ContractError("the contract is already closed")
        if (
            not _stale(row.sealing_since)
            or row.signers.filter(signing_since__gt=timezone.now() - CLAIM_TTL).exists()
        ):
            raise ContractError("a signature is in progress; try again in a moment")
        _close(row, Contract.Status.CANCELLED, actor=actor or _actor(user), reason=reason)
    return row


# --------------------------------------------------------------------------- reading


def mark_viewed(contract: Contract, user: User, version: ContractVersion) -> None:
    """Record that ``user`` opened ``version`` (signing needs the newest one opened)."""
    updated = ContractSigner.objects.filter(contract=contract, user=user).update(
        viewed_at=timezone.now(), viewed_version=version.number
    )
    if updated:
        record(
            "contract.viewed",
            actor=_actor(user),
            target=_target(contract),
            data={"version": version.number, "sha256": version.sha256},
        )


def record_download(
    contract: Contract, version: ContractVersion, *, actor: str, ip: str | None
) -> None:
    """Audit one download: a copy (副本), never the original itself (seed 13(3))."""
    record(
        "contract.downloaded",
        actor=actor,
        target=_target(contract),
        data={
            "version": version.number,
            "sha256": version.sha256,
            "original": version.sha256 == contract.original_sha256,
            "ip": ip or "",
        },
    )


# --------------------------------------------------------------------------- periodic


def tick(now: dt.datetime | None = None) -> dict[str, int]:
    """Reminders before the deadline, expiry after it, and recovery of contracts a crash left
    between a signature and its validation. Run by ``keiin serve``'s maintenance loop."""
    now = now or timezone.now()
    done = {"reminded": 0, "expired": 0, "advanced": 0}
    for contract in Contract.objects.filter(
        status__in=(Contract.Status.DRAFT, Contract.Status.SIGNING), sign_by__lt=now
    ):
        with transaction.atomic():
            row = Contract.objects.select_for_update().get(pk=contract.pk)
            if row.status in (Contract.Status.DRAFT, Contract.Status.SIGNING) and (
                row.sealing_since is None or _stale(row.sealing_since)
            ):
                _close(row, Contract.Status.EXPIRED, actor="system", reason="deadline passed")
                done["expired"] += 1
    for signer in ContractSigner.objects.filter(
        status=ContractSigner.Status.WAITING, contract__status=Contract.Status.SIGNING
    ).select_related("contract", "user", "user__partner"):
        if _remind_if_due(signer, now):
            done["reminded"] += 1
    for contract in Contract.objects.filter(
        status__in=(Contract.Status.DRAFT, Contract.Status.SIGNING)
    ):
        latest = contract.latest_version()
        if latest is None or latest.kind in (
            ContractVersion.Kind.UPLOADED,
            ContractVersion.Kind.GENERATED,
        ):
            continue
        waiting = contract.signers.filter(status=ContractSigner.Status.WAITING).exists()
        if latest.validation == ContractVersion.Validation.NONE or (
            contract.status == Contract.Status.DRAFT or not waiting
        ):
            advance(contract)
            done["advanced"] += 1
    return done


def _remind_if_due(signer: ContractSigner, now: dt.datetime) -> bool:
    contract = signer.contract
    for days in sorted(settings.KEIIN_CONTRACT_REMIND_DAYS, reverse=True):
        due = contract.sign_by - dt.timedelta(days=days)
        if now < due or (signer.notified_at and signer.notified_at >= due):
            continue
        if signer.reminded_at is not None and signer.reminded_at >= due:
            continue
        with transaction.atomic():
            updated = ContractSigner.objects.filter(
                pk=signer.pk, status=ContractSigner.Status.WAITING, reminded_at=signer.reminded_at
            ).update(reminded_at=now)
            if not updated:
                return False
            record(
                "contract.reminded",
                actor="system",
                target=_target(contract),
                data={"position": signer.position, "days_left": days},
            )
            notify.after_commit(
                contract,
                "contract.reminded",
                actor="system",
                template="reminder",
                to=[signer.user],
                data={"position": signer.position},
            )
        return True
    return False
