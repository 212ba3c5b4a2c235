"""Revoke certificates when the partner side changes what they certify (seed clauses 8, 9)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from keiin.pki.revocation import RevocationReason
from keiin.web.credentials import services
from keiin.web.partners.signals import signatory_identity_changed, user_removed


@receiver(user_removed)
def _user_removed(sender: Any, *, user: Any, actor: str, reason: str = "", **_: Any) -> None:
    """A person left the partner: affiliationChanged, key destroyed, mail."""
    services.revoke_all_of(
        user,
        RevocationReason.AFFILIATION_CHANGED,
        actor=actor,
        note=reason or "user removed",
        mail="certificate_revoked",
    )


@receiver(signatory_identity_changed)
def _identity_changed(sender: Any, *, user: Any, actor: str, changes: Any = None, **_: Any) -> None:
    """Name, e-mail, company or role changed: superseded, and ask for a new certificate."""
    fields = ", ".join(sorted(changes or {})) or "identity"
    services.revoke_all_of(
        user,
        RevocationReason.SUPERSEDED,
        actor=actor,
        note=f"changed: {fields}",
        mail="certificate_superseded",
    )
