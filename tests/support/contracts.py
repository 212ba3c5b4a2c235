"""Test setup for contracts: Keiin's CA and TSA, a partner signatory with a certificate, a
contract manager holding the organisation seal, and a trusted clock.

A test module lists ``pytest_plugins = ["tests.support.smtp", "tests.support.contract_world"]``
and uses the ``contract_world`` fixture (transactional database: the TSA logs each token on
its own connection); the constants and helpers are imported from here.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from io import BytesIO

from django.conf import settings
from django.utils import timezone

from keiin.tsa.clock import ClockStatus, ClockStatusFile
from keiin.web.accounts.models import Role, User
from keiin.web.contracts import services
from keiin.web.contracts.models import Contract
from keiin.web.credentials.models import SignerCredential
from keiin.web.partners.models import Partner
from tests.support.partners import STAFF_PASSWORD, Registered
from tests.unit.pdf.support import minimal_pdf

SIGNER_PIN = "583920"
SEAL_PIN = "402817"
WRONG_PIN = "719305"


@dataclass
class World:
    """Everything a contract needs."""

    partner: Partner
    registered: Registered
    signatory: User
    credential: SignerCredential
    manager: User
    seal: SignerCredential

    def terms(self, **overrides: object) -> services.ContractTerms:
        """Contract terms for one signatory (the registered one) unless overridden."""
        values: dict[str, object] = {
            "title": "業務委託契約書",
            "partner": self.partner,
            "signatories": [self.signatory],
            "contract_date": dt.date(2026, 11, 1),
            "amount": 1_234_567,
            "starts_on": dt.date(2026, 12, 1),
            "ends_on": dt.date(2027, 11, 30),
            "sign_by": timezone.now() + dt.timedelta(days=7),
        }
        values.update(overrides)
        return services.ContractTerms(**values)  # type: ignore[arg-type]

    def draft(self, pdf: bytes | None = None, **overrides: object) -> Contract:
        """A draft contract from ``pdf`` (default: a two-page test PDF)."""
        return services.create_contract(
            self.terms(**overrides), BytesIO(pdf or minimal_pdf(2)), creator=self.manager
        )


def write_clock(state: str = "ok", offset: float | None = 0.001) -> None:
    """Write the shared clock status as ``keiin serve`` does after an NTP check."""
    status_file = ClockStatusFile(settings.HOME.run / "clock.status")
    source = f"127.0.0.1:12345 (stratum 1, state {state})"
    status_file.write(ClockStatus(state, offset, time.time(), source, time.monotonic()))
    status_file.close()


def make_manager(login_id: str = "manager") -> User:
    """An operator contract manager."""
    return User.objects.create_user(
        login_id, f"{login_id}@operator.example.jp", STAFF_PASSWORD, role=Role.CONTRACT_MANAGER
    )
