"""``{% live_credential user as credential %}``: the signatory's current credential, if any."""

from __future__ import annotations

from typing import Any

from django import template

from keiin.web.credentials.models import SignerCredential

register = template.Library()


@register.simple_tag
def live_credential(user: Any) -> SignerCredential | None:
    """The user's credential that is not revoked, or None (anonymous: None)."""
    if not getattr(user, "is_authenticated", False):
        return None
    from keiin.web.credentials.services import live_credential as find

    return find(user)
