"""Periodic upkeep, run by ``keiin serve`` every few minutes and by ``keiin maintenance``."""

from __future__ import annotations

import time

from django.conf import settings
from django.utils import timezone

from keiin.web.api.delivery import deliver_due
from keiin.web.ca import services as ca_services
from keiin.web.contracts import integrity
from keiin.web.contracts import services as contract_services
from keiin.web.timestamping import terms
from keiin.web.timestamping.auth import accounts_generation
from keiin.web.timestamping.models import TsaAccount


def run_all(*, actor: str = "system") -> dict[str, int]:
    """Re-issue due CRLs, renew OCSP responder certificates, renew TSA contract years,
    contract reminders and expiry, and the daily integrity check of contract files."""
    done = ca_services.run_maintenance(actor=actor)
    today = timezone.localdate()
    renewed = 0
    for account in TsaAccount.objects.filter(term_end__lt=today, auto_renew=True):
        renewed += terms.renew_if_due(account, today)
    if renewed:
        accounts_generation().bump()
    done["tsa_renewals"] = renewed
    done["webhook_deliveries"] = deliver_due()  # webhook retries (keiin.web.api.delivery)
    ticked = contract_services.tick()
    done["contract_reminders"] = ticked["reminded"]
    done["contracts_expired"] = ticked["expired"]
    done["contract_integrity_findings"] = _daily_integrity_check()
    return done


def _daily_integrity_check() -> int:
    """Re-hash every stored contract file once a day (findings are audited); the count."""
    stamp = settings.HOME.run / "contracts-integrity.stamp"
    now = time.time()
    try:
        if now - stamp.stat().st_mtime < 24 * 3600:
            return 0
    except FileNotFoundError:
        pass
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    return sum(1 for _ in integrity.check_all())
