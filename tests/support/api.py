"""Test setup for the REST API (``tests/web/test_api*.py``).

A test module lists ``pytest_plugins = ["tests.support.smtp", "tests.support.contract_world",
"tests.support.api"]`` and uses ``api_world``: the ``contract_world`` (partner A with a
certified signatory, a contract manager holding the seal) plus partner B with a signatory, and
three API keys of the manager — unscoped, limited to A, limited to B. Webhook threads are
waited for after each test, and a local HTTP receiver records what webhooks send.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from typing import TYPE_CHECKING

import pytest

from keiin.web.accounts.models import User
from keiin.web.api import delivery, keys
from keiin.web.contracts import services
from keiin.web.contracts.models import Contract
from keiin.web.partners.models import Partner
from tests.support.partners import register
from tests.unit.pdf.support import minimal_pdf

if TYPE_CHECKING:  # the plugin module is imported by pytest itself (assertion rewriting)
    from tests.support.contracts import World


@dataclass
class ApiWorld:
    """The contract world, a second partner and keys."""

    world: World
    partner_b: Partner
    signatory_b: User
    key_all: str
    key_a: str
    key_b: str

    @property
    def partner_a(self) -> Partner:
        return self.world.partner

    @property
    def signatory_a(self) -> User:
        return self.world.signatory

    def draft_b(self, title: str = "ベータ社との秘密の契約") -> Contract:
        """A draft contract with partner B (made directly through the service)."""
        return services.create_contract(
            services.ContractTerms(
                title=title,
                partner=self.partner_b,
                signatories=[self.signatory_b],
                contract_date=self.world.terms().contract_date,
                amount=98_765_432,
            ),
            BytesIO(minimal_pdf()),
            creator=self.world.manager,
        )


@pytest.fixture
def api_world(contract_world, smtp_server, settings) -> Iterator[ApiWorld]:
    """See the module docstring."""
    settings.KEIIN_API_RATE = "1000000/min"
    settings.KEIIN_API_RATE_GLOBAL = "1000000/min"
    b = register(smtp_server, name_en="Beta Industries K.K.", email="b1@beta.example.jp")
    manager = contract_world.manager
    key_all = keys.create_key("erp", manager, actor="test").token
    key_a = keys.create_key("alpha-portal", manager, [contract_world.partner], actor="test").token
    key_b = keys.create_key("beta-portal", manager, [b.partner], actor="test").token
    smtp_server.clear()
    yield ApiWorld(contract_world, b.partner, b.user, key_all, key_a, key_b)
    assert delivery.wait_for_workers(30), "webhook threads still running"


@dataclass
class Receiver:
    """A local HTTP server recording webhook requests; answers with ``statuses`` in turn
    (the last one repeated)."""

    statuses: list[int]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (first answer 500, then 200 unless changed)."""
    state = Receiver(statuses=[500, 200])
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                state.requests.append((dict(self.headers.items()), body))
                index = min(len(state.requests), len(state.statuses)) - 1
                status = state.statuses[index]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/keiin"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
