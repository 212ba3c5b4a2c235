"""The ``contract_world`` fixture (see :mod:`tests.support.contracts`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keiin.web.ca import services as ca_services
from keiin.web.credentials import services as credential_services
from keiin.web.credentials.pepper import reset_pepper
from keiin.web.timestamping.config import tsa_settings
from tests.support.contracts import SEAL_PIN, SIGNER_PIN, World, make_manager, write_clock
from tests.support.custody import use_fast_custody
from tests.support.partners import register


@pytest.fixture
def contract_world(smtp_server, monkeypatch, tmp_path, settings) -> Iterator[World]:
    """Hierarchy + TSA, a partner signatory with a certificate, a manager with the seal."""
    settings.KEIIN_BLOB_DIR = tmp_path / "blobs"
    settings.KEIIN_RATE_USER = "1000000/min"
    settings.KEIIN_RATE_GLOBAL = "1000000/min"
    use_fast_custody(monkeypatch, tmp_path)
    tsa_settings.cache_clear()
    path = settings.HOME.run / "clock.status"
    before = path.read_bytes() if path.exists() else None
    write_clock()
    ca_services.ensure_hierarchy("Test Operator", actor="test")
    registered = register(smtp_server)
    signatory = registered.user
    credential = credential_services.request_certificate(
        signatory, SIGNER_PIN, credential_services.Receipt("192.0.2.7", "pytest")
    )
    manager = make_manager()
    seal = credential_services.request_seal(
        manager, SEAL_PIN, credential_services.Receipt("192.0.2.8", "pytest")
    )
    smtp_server.clear()
    yield World(registered.partner, registered, signatory, credential, manager, seal)
    reset_pepper()
    tsa_settings.cache_clear()
    if before is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(before)
