"""TSA settings, read from the environment once per process (see docs/tsa.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "")
    if not value:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


#: Keiin's TSA policy OID (UUID arc, like the CA policy).
DEFAULT_TSA_POLICY = "2.25.238439118829383962738426658434598207742.3161.1"


@dataclass(frozen=True)
class TsaSettings:
    """How the TSA behaves; every field has an environment variable."""

    policies: tuple[str, ...]  # KEIIN_TSA_POLICIES: first is the default
    accuracy_ms: int  # KEIIN_TSA_ACCURACY_MS (default 1000)
    include_chain: bool  # KEIIN_TSA_INCLUDE_CHAIN
    anonymous: bool  # KEIIN_TSA_ANONYMOUS (on in `keiin demo`)
    ntp_servers: str  # KEIIN_NTP_SERVERS ("none": clock not checked)
    clock_tolerance: float  # KEIIN_TSA_CLOCK_TOLERANCE seconds (default 1)
    ntp_interval: float  # KEIIN_NTP_INTERVAL seconds between checks (default 64)
    allow_unchecked_clock: bool  # KEIIN_TSA_ALLOW_UNCHECKED_CLOCK (demo only)


@cache
def tsa_settings() -> TsaSettings:
    """The settings in force in this process."""
    policies = tuple(
        p.strip()
        for p in os.environ.get("KEIIN_TSA_POLICIES", DEFAULT_TSA_POLICY).split(",")
        if p.strip()
    )
    return TsaSettings(
        policies=policies or (DEFAULT_TSA_POLICY,),
        accuracy_ms=int(os.environ.get("KEIIN_TSA_ACCURACY_MS", "1000")),
        include_chain=_flag("KEIIN_TSA_INCLUDE_CHAIN"),
        anonymous=_flag("KEIIN_TSA_ANONYMOUS"),
        ntp_servers=os.environ.get("KEIIN_NTP_SERVERS", "ntp.nict.jp"),
        clock_tolerance=float(os.environ.get("KEIIN_TSA_CLOCK_TOLERANCE", "1.0")),
        ntp_interval=float(os.environ.get("KEIIN_NTP_INTERVAL", "64")),
        allow_unchecked_clock=_flag("KEIIN_TSA_ALLOW_UNCHECKED_CLOCK"),
    )
