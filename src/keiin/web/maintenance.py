"""Periodic upkeep, run by ``keiin serve`` every few minutes and by ``keiin maintenance``."""

from __future__ import annotations

from django.utils import timezone

from keiin.web.ca import services as ca_services
from keiin.web.timestamping import terms
from keiin.web.timestamping.auth import accounts_generation
from keiin.web.timestamping.models import TsaAccount


def run_all(*, actor: str = "system") -> dict[str, int]:
    """Re-issue due CRLs, renew OCSP responder certificates, renew TSA contract years."""
    done = ca_services.run_maintenance(actor=actor)
    today = timezone.localdate()
    renewed = 0
    for account in TsaAccount.objects.filter(term_end__lt=today, auto_renew=True):
        renewed += terms.renew_if_due(account, today)
    if renewed:
        accounts_generation().bump()
    done["tsa_renewals"] = renewed
    return done
