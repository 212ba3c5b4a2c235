"""Signatory credentials: issue under a PIN, open for one signature, change the PIN, revoke.

The cryptography is :mod:`keiin.custody`'s; this module adds the database side in the order
that package prescribes: the row is locked, the pepper checked (a server fault never counts as
a wrong PIN), the failure counter incremented and *committed* before any decryption, reset
only after a success. After :data:`~keiin.custody.MAX_PIN_FAILURES` wrong PINs the credential
is locked for good; the way out is revocation and a new certificate (seed clause 9).

Every state change is audited; the signatory is emailed on issuance, lock and revocation.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from keiin import custody
from keiin.pki.profiles import SubjectInfo
from keiin.pki.revocation import RevocationReason
from keiin.web.accounts.models import Role, User
from keiin.web.audit.log import record
from keiin.web.ca import services as ca_services
from keiin.web.ca.models import IssuedCertificate
from keiin.web.credentials.models import SignerCredential
from keiin.web.credentials.pepper import configured_pepper


class CredentialError(Exception):
    """A request the service refuses; the message can be shown to the person."""


class PinRejectedError(CredentialError):
    """A wrong PIN; ``attempts_left`` is 0 when the credential is now locked."""

    def __init__(self, message: str, attempts_left: int) -> None:
        super().__init__(message)
        self.attempts_left = attempts_left


class ServerFaultError(CredentialError):
    """Not the person's fault (pepper missing or mismatched, corrupt record): nothing counted."""


def kdf_params() -> custody.KdfParams:
    """Argon2id parameters for new credentials (``KEIIN_CUSTODY_ARGON2_*``; defaults: 3 passes,
    64 MiB, 1 lane). Existing credentials keep the parameters they were made with."""
    return custody.KdfParams(
        time_cost=int(os.environ.get("KEIIN_CUSTODY_ARGON2_TIME", "3")),
        memory_cost_kib=int(os.environ.get("KEIIN_CUSTODY_ARGON2_MEMORY_KIB", "65536")),
        parallelism=int(os.environ.get("KEIIN_CUSTODY_ARGON2_LANES", "1")),
    )


def tenant_of(user: User) -> str:
    """The custody tenant label of ``user``: their partner, or the operator."""
    return f"partner-{user.partner_id}" if user.partner_id else "operator"


#: The two purposes of a credential: a signatory's own key, and the operator's organisation
#: seal (one live at a time, usable by every contract manager who knows its PIN).
SIGNER = "signer"
SEAL = "seal"


def live_credential(user: User, purpose: str = SIGNER) -> SignerCredential | None:
    """The user's credential that is not revoked (active or locked), if any."""
    return (
        SignerCredential.objects.filter(user=user, purpose=purpose)
        .exclude(status=SignerCredential.Status.REVOKED)
        .select_related("certificate")
        .first()
    )


def _subject(user: User) -> SubjectInfo:
    organization = settings.KEIIN_ORGANIZATION
    if user.partner_id:
        organization = user.partner.company_name()
    return SubjectInfo(
        common_name=(user.display_name or user.login_id)[:64],
        organization=organization[:64],
        email=user.email,
    )


def _may_sign(user: User) -> bool:
    if not user.is_active or user.role != Role.SIGNATORY:
        return False
    return user.partner_id is None or user.partner.can_log_in


def may_use_seal(user: User) -> bool:
    """Only active contract managers may use (or create) the organisation seal."""
    return user.is_active and user.partner_id is None and user.role == Role.CONTRACT_MANAGER


def live_seal() -> SignerCredential | None:
    """The organisation seal credential that is not revoked, if any."""
    return (
        SignerCredential.objects.filter(purpose=SEAL)
        .exclude(status=SignerCredential.Status.REVOKED)
        .select_related("certificate", "user")
        .order_by("-created_at", "-id")
        .first()
    )


def _may_use(row: SignerCredential, user: User | None) -> bool:
    """Whether ``user`` (default: the owner) may open ``row`` now."""
    if row.purpose == SEAL:
        return user is not None and may_use_seal(user)
    return (user is None or user.pk == row.user_id) and _may_sign(row.user)


def _after_commit(action: Callable[[], None]) -> None:
    """Run ``action`` once the transaction commits (mail never announces a rolled-back change)."""
    transaction.on_commit(action)


@dataclass(frozen=True)
class Receipt:
    """Where and how the signatory set the PIN (the receipt acknowledgement)."""

    ip: str | None
    user_agent: str


def request_certificate(user: User, pin: str, receipt: Receipt) -> SignerCredential:
    """Generate the key under ``pin``, certify it, and record the receipt.

    Raises :class:`CredentialError` (not a signatory, already has one) or
    :class:`keiin.custody.WeakPinError` (the PIN policy's reason in its message).
    """
    if not _may_sign(user):
        raise CredentialError("only an active signatory can obtain a signature certificate")
    if live_credential(user) is not None:
        raise CredentialError("you already have a signature certificate")
    return _issue(user, pin, receipt, purpose=SIGNER, subject=_subject(user))


def seal_subject(creator: User | None = None) -> SubjectInfo:
    """The organisation seal certificate's subject: ``KEIIN_SEAL_NAME`` (default: the
    organisation), the organisation, and ``KEIIN_SEAL_EMAIL`` (default: the creator's)."""
    organization = settings.KEIIN_ORGANIZATION
    return SubjectInfo(
        common_name=(settings.KEIIN_SEAL_NAME or organization)[:64],
        organization=organization[:64],
        email=settings.KEIIN_SEAL_EMAIL or (creator.email if creator else None),
    )


def request_seal(user: User, pin: str, receipt: Receipt) -> SignerCredential:
    """Create the organisation seal: a key under its own ``pin``, certified for the operator.

    Only a contract manager may, and only when no live seal exists (revoke the old one first).
    The PIN is then shared by the contract managers, who alone may use the seal.
    """
    if not may_use_seal(user):
        raise CredentialError("only a contract manager can create the organisation seal")
    if live_seal() is not None:
        raise CredentialError("the organisation seal already exists; revoke it first")
    return _issue(user, pin, receipt, purpose=SEAL, subject=seal_subject(user))


def _issue(
    user: User, pin: str, receipt: Receipt, *, purpose: str, subject: SubjectInfo
) -> SignerCredential:
    credential_id = SignerCredential._meta.get_field("credential_id").default()
    tenant = tenant_of(user)
    # The slow part (Argon2id, key generation) runs outside any transaction.
    stored, public_key = custody.create_credential(
        pin,
        pepper=configured_pepper(),
        tenant=tenant,
        credential_id=credential_id,
        kdf=kdf_params(),
    )
    actor = f"user:{user.login_id}"
    now = timezone.now()
    with transaction.atomic():
        if purpose == SEAL and live_seal() is not None:  # a concurrent creation won
            raise CredentialError("the organisation seal already exists; revoke it first")
        issued = ca_services.issue_signer(subject, public_key, actor=actor)
        credential = SignerCredential.objects.create(
            credential_id=credential_id,
            user=user,
            tenant=tenant,
            purpose=purpose,
            certificate=issued,
            record=stored.to_dict(),
            receipt_at=now,
            receipt_ip=receipt.ip,
            receipt_user_agent=receipt.user_agent[:400],
            terms_version=settings.KEIIN_TERMS_VERSION,
        )
        record(
            "credential.issued",
            actor=actor,
            target=credential_id,
            data={
                "purpose": purpose,
                "certificate_serial": issued.serial_hex,
                "receipt_at": now.isoformat(),
                "receipt_ip": receipt.ip or "",
                "receipt_user_agent": receipt.user_agent[:400],
                "terms_version": settings.KEIIN_TERMS_VERSION,
            },
        )
        _after_commit(lambda: _notify(credential, "certificate_issued"))
    return credential


def _count_attempt(credential: SignerCredential, user: User | None = None) -> SignerCredential:
    """Lock the row, refuse unusable credentials, check the pepper, count one attempt.

    The increment is committed before this returns (before any decryption)."""
    with transaction.atomic():
        row = SignerCredential.objects.select_for_update().get(pk=credential.pk)
        if row.status == SignerCredential.Status.REVOKED:
            raise CredentialError("this certificate is revoked")
        if row.status == SignerCredential.Status.LOCKED or custody.is_locked(row.pin_failures):
            raise CredentialError(
                "this certificate is locked after too many wrong PINs; ask for a new one"
            )
        if not _may_use(row, user):
            raise CredentialError("you may not sign at the moment")
        try:
            custody.check_pepper(
                custody.CredentialRecord.from_dict(row.record), configured_pepper()
            )
        except (custody.PepperError, custody.CorruptRecordError) as exc:
            record(
                "credential.server_fault",
                actor="system",
                target=row.credential_id,
                data={"error": type(exc).__name__},
            )
            raise ServerFaultError(
                "the signing service cannot open keys right now; nothing was counted"
            ) from None
        row.pin_failures += 1
        row.save(update_fields=["pin_failures"])
    return row


def _wrong_pin(row: SignerCredential, actor: str) -> PinRejectedError:
    with transaction.atomic():
        row = SignerCredential.objects.select_for_update().get(pk=row.pk)
        left = max(0, custody.MAX_PIN_FAILURES - row.pin_failures)
        record(
            "credential.pin_failed",
            actor=actor,
            target=row.credential_id,
            data={"failures": row.pin_failures},
        )
        if left == 0 and row.status == SignerCredential.Status.ACTIVE:
            row.status = SignerCredential.Status.LOCKED
            row.save(update_fields=["status"])
            record("credential.locked", actor="system", target=row.credential_id)
            _after_commit(lambda: _notify(row, "credential_locked"))
    if left == 0:
        return PinRejectedError("wrong PIN; the certificate is now locked", 0)
    return PinRejectedError(f"wrong PIN; {left} attempt(s) left", left)


def _succeeded(row: SignerCredential, actor: str, action: str) -> None:
    with transaction.atomic():
        SignerCredential.objects.filter(pk=row.pk).update(
            pin_failures=0, last_used_at=timezone.now()
        )
        record(action, actor=actor, target=row.credential_id)


def open_for_signing(
    credential: SignerCredential, pin: str, *, actor: str, user: User | None = None
) -> custody.UnlockedKey:
    """The key for ONE signature (use it as a context manager), or an error; see module doc.

    ``user`` is the person opening it: for a signatory credential the owner (the default),
    for the organisation seal any active contract manager (required)."""
    row = _count_attempt(credential, user)
    try:
        unlocked = custody.unlock(
            custody.CredentialRecord.from_dict(row.record),
            pin,
            pepper=configured_pepper(),
            tenant=row.tenant,
            credential_id=row.credential_id,
        )
    except custody.WrongPinError:
        raise _wrong_pin(row, actor) from None
    except custody.CustodyError as exc:
        record(
            "credential.server_fault",
            actor="system",
            target=row.credential_id,
            data={"error": type(exc).__name__},
        )
        raise ServerFaultError("the key could not be opened; nothing was signed") from None
    _succeeded(row, actor, "credential.unlocked")
    return unlocked


def change_pin(
    credential: SignerCredential,
    old_pin: str,
    new_pin: str,
    *,
    actor: str,
    user: User | None = None,
) -> None:
    """Re-wrap the key under ``new_pin`` (the old PIN is counted like any attempt)."""
    custody.check_pin_strength(new_pin)  # refuse a weak new PIN before counting anything
    row = _count_attempt(credential, user)
    try:
        changed = custody.change_pin(
            custody.CredentialRecord.from_dict(row.record),
            old_pin,
            new_pin,
            pepper=configured_pepper(),
            tenant=row.tenant,
            credential_id=row.credential_id,
            kdf=kdf_params(),
        )
    except custody.WrongPinError:
        raise _wrong_pin(row, actor) from None
    with transaction.atomic():
        locked = SignerCredential.objects.select_for_update().get(pk=row.pk)
        if locked.status != SignerCredential.Status.ACTIVE:  # revoked meanwhile: keep it so
            raise CredentialError("this certificate is no longer active")
        locked.record = changed.to_dict()
        locked.pin_failures = 0
        locked.save(update_fields=["record", "pin_failures"])
        record("credential.pin_changed", actor=actor, target=row.credential_id)


def revoke_credential(
    credential: SignerCredential,
    reason: RevocationReason,
    *,
    actor: str,
    note: str = "",
    invalidity_date: dt.datetime | None = None,
    mail: str = "certificate_revoked",
) -> SignerCredential:
    """Revoke the certificate (CRL + OCSP at once) and destroy the wrapped key. Idempotent."""
    with transaction.atomic():
        row = SignerCredential.objects.select_for_update().get(pk=credential.pk)
        if row.status == SignerCredential.Status.REVOKED:
            return row
        cert = IssuedCertificate.objects.get(pk=row.certificate_id)
        if cert.status != IssuedCertificate.Status.REVOKED:
            try:
                ca_services.revoke(cert, reason, actor=actor, invalidity_date=invalidity_date)
            except ca_services.CaError as exc:
                raise CredentialError(str(exc)) from None
        row.record = custody.destroy(custody.CredentialRecord.from_dict(row.record)).to_dict()
        row.status = SignerCredential.Status.REVOKED
        row.revoked_at = timezone.now()
        row.revocation_reason = reason.value
        row.revocation_note = note[:2000]
        row.save(
            update_fields=["record", "status", "revoked_at", "revocation_reason", "revocation_note"]
        )
        record(
            "credential.revoked",
            actor=actor,
            target=row.credential_id,
            data={"reason": reason.value, "note": note[:2000], "certificate": cert.serial_hex},
        )
        _after_commit(lambda: _notify(row, mail))
    return row


def revoke_all_of(user: User, reason: RevocationReason, *, actor: str, note: str, mail: str) -> int:
    """Revoke every live credential of ``user``; the number revoked."""
    count = 0
    for credential in SignerCredential.objects.filter(user=user).exclude(
        status=SignerCredential.Status.REVOKED
    ):
        revoke_credential(credential, reason, actor=actor, note=note, mail=mail)
        count += 1
    return count


def _notify(credential: SignerCredential, template: str) -> None:
    """Email the credential's owner; a mail failure is audited, never fatal."""
    from keiin.web.partners import mail

    user = User.objects.select_related("partner").get(pk=credential.user_id)
    language = user.partner.language if user.partner_id else "ja"
    context = {"user": user, "credential": credential, "certificate": credential.certificate}
    try:
        mail.send(template, user.email, context, language)
    except Exception as exc:  # SMTP down: the change stands, the failure is on record
        record(
            "mail.failed",
            actor="system",
            target=credential.credential_id,
            data={"template": template, "error": type(exc).__name__},
        )
