"""CA policy settings (validity periods, CRL and OCSP timing), read from the environment."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import cache

from django.conf import settings

from keiin.pki.keys import KeyAlgorithm
from keiin.pki.profiles import DEFAULT_POLICY_OID, PublicUrls


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    value = int(raw)
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer")
    return value


@dataclass(frozen=True)
class CaPolicy:
    """Timing and algorithm choices of the CA; see docs/pki.md for what each means."""

    key_algorithm: KeyAlgorithm
    policy_oid: str
    root_validity: dt.timedelta
    issuing_validity: dt.timedelta
    tsa_validity: dt.timedelta
    signer_validity: dt.timedelta
    ocsp_responder_validity: dt.timedelta
    ocsp_responder_renew_before: dt.timedelta
    ocsp_response_validity: dt.timedelta
    root_crl_validity: dt.timedelta
    issuing_crl_validity: dt.timedelta

    def crl_validity(self, is_root: bool) -> dt.timedelta:
        """How long a CRL of this CA is valid (thisUpdate to nextUpdate)."""
        return self.root_crl_validity if is_root else self.issuing_crl_validity

    def crl_refresh_age(self, is_root: bool) -> dt.timedelta:
        """A CRL older than this is re-issued (a quarter of its validity)."""
        return self.crl_validity(is_root) / 4


@cache
def policy() -> CaPolicy:
    """The policy in force (read once per process)."""
    days = dt.timedelta(days=1)
    hours = dt.timedelta(hours=1)
    return CaPolicy(
        key_algorithm=KeyAlgorithm.parse(settings.KEIIN_KEY_ALGORITHM),
        policy_oid=os.environ.get("KEIIN_POLICY_OID", DEFAULT_POLICY_OID),
        root_validity=_int_env("KEIIN_ROOT_VALIDITY_DAYS", 365 * 20) * days,
        issuing_validity=_int_env("KEIIN_ISSUING_VALIDITY_DAYS", 365 * 10) * days,
        tsa_validity=_int_env("KEIIN_TSA_VALIDITY_DAYS", 365 * 10) * days,
        signer_validity=_int_env("KEIIN_SIGNER_VALIDITY_DAYS", 365 * 2) * days,
        ocsp_responder_validity=_int_env("KEIIN_OCSP_RESPONDER_VALIDITY_DAYS", 90) * days,
        ocsp_responder_renew_before=_int_env("KEIIN_OCSP_RESPONDER_RENEW_DAYS", 30) * days,
        ocsp_response_validity=_int_env("KEIIN_OCSP_RESPONSE_VALIDITY_HOURS", 24) * hours,
        root_crl_validity=_int_env("KEIIN_ROOT_CRL_VALIDITY_DAYS", 30) * days,
        issuing_crl_validity=_int_env("KEIIN_ISSUING_CRL_VALIDITY_HOURS", 96) * hours,
    )


def public_urls() -> PublicUrls:
    """The URLs written into certificates."""
    return PublicUrls(settings.KEIIN_BASE_URL)
