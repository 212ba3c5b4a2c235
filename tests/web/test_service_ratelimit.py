"""Rate limits: per user (or client address) and global, 429 with Retry-After, counted in the
database so that every worker shares them."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections
from django.test import Client, override_settings

from keiin.web.accounts.models import Role, User
from keiin.web.service import ratelimit
from keiin.web.service.middleware import RateLimitMiddleware
from keiin.web.service.models import RateCounter
from keiin.web.service.ratelimit import DatabaseCounter, Rate, client_key

pytestmark = pytest.mark.django_db

#: A fixed clock 10 s into a minute (windows start on multiples of their length).
T0 = 1_800_000_000.0 + 10


@pytest.fixture
def clock(monkeypatch):
    """The limiter's clock, moved by the test."""
    now = {"t": T0}
    monkeypatch.setattr(ratelimit, "_now", lambda: now["t"])
    return now


@pytest.fixture
def people(db):
    a = User.objects.create_user("a", "a@example.jp", None, role=Role.CONTRACT_MANAGER)
    b = User.objects.create_user("b", "b@example.jp", None, role=Role.CONTRACT_MANAGER)
    return a, b


def _client(user: User | None = None, address: str = "192.0.2.1") -> Client:
    client = Client(REMOTE_ADDR=address)
    if user is not None:
        client.force_login(user)
    return client


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("120/min", Rate(120, 60)),
        ("3000/minute", Rate(3000, 60)),
        ("5 / s", Rate(5, 1)),
        ("10/30s", Rate(10, 30)),
        ("5000/h", Rate(5000, 3600)),
        ("100000/day", Rate(100000, 86400)),
        ("2/minutes", Rate(2, 60)),
        ("off", None),
        ("0", None),
        ("", None),
        ("0/min", None),
    ],
)
def test_rates_parse(text, rate):
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["lots", "120", "120/fortnight", "-1/min", "1.5/min", "1/0s"])
def test_bad_rates_are_configuration_errors(text):
    with pytest.raises(ImproperlyConfigured):
        Rate.parse(text)


def test_a_bad_setting_stops_the_middleware_at_start_up():
    with override_settings(KEIIN_RATE_USER="very many"), pytest.raises(ImproperlyConfigured):
        RateLimitMiddleware(lambda request: None)
    with override_settings(KEIIN_RATE_STORE="redis"), pytest.raises(ImproperlyConfigured):
        RateLimitMiddleware(lambda request: None)


def test_windows_and_retry_after():
    rate = Rate(10, 60)
    assert rate.slot(T0) == T0 - 10
    assert rate.retry_after(T0) == 50
    assert rate.retry_after(T0 + 49.2) == 1
    assert rate.retry_after(T0 + 49.99) == 1


@pytest.mark.parametrize(
    ("user_id", "address", "key"),
    [
        (7, "192.0.2.1", "u:7"),
        (None, "192.0.2.1", "a:192.0.2.1"),
        (None, "2001:db8:1:2:3:4:5:6", "a:2001:db8:1:2::/64"),
        (None, "2001:db8:1:2:ffff::1", "a:2001:db8:1:2::/64"),
        (None, "::ffff:192.0.2.9", "a:192.0.2.9"),
        (None, None, "a:unknown"),
        (None, "not an address", "a:unknown"),
    ],
)
def test_client_keys(user_id, address, key):
    assert client_key(user_id, address) == key


# --------------------------------------------------------------------------- the middleware


@override_settings(KEIIN_RATE_USER="3/min", KEIIN_RATE_GLOBAL="off")
def test_per_user_limit_answers_429_with_retry_after(clock):
    client = _client()
    for _ in range(3):
        assert client.get("/console/login/").status_code == 200
    response = client.get("/console/login/")
    assert response.status_code == 429
    assert response["Retry-After"] == "50"
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert '<html lang="ja">' in html
    assert "50 秒後" in html
    # POSTs are refused the same way, before any form is looked at.
    assert client.post("/console/login/", {"username": "x", "password": "y"}).status_code == 429
    english = client.get("/en/console/login/")
    assert english.status_code == 429
    assert "try again in 50 seconds" in english.content.decode()
    # The next window lets the client in again.
    clock["t"] += 50
    assert client.get("/console/login/").status_code == 200


@override_settings(KEIIN_RATE_USER="2/min", KEIIN_RATE_GLOBAL="off")
def test_users_and_addresses_count_separately(clock, people):
    a, b = people
    client_a, client_b = _client(a), _client(b)
    for _ in range(2):
        assert client_a.get("/console/tsa/").status_code == 200
    assert client_a.get("/console/tsa/").status_code == 429
    assert client_b.get("/console/tsa/").status_code == 200
    # Anonymous visitors count by address; a logged-in user from that address does not share it.
    assert _client(address="198.51.100.7").get("/console/login/").status_code == 200
    assert _client(address="198.51.100.7").get("/console/login/").status_code == 200
    assert _client(address="198.51.100.7").get("/console/login/").status_code == 429
    assert _client(address="198.51.100.8").get("/console/login/").status_code == 200
    assert _client(b, address="198.51.100.7").get("/console/tsa/").status_code == 200


@override_settings(KEIIN_RATE_USER="2/min", KEIIN_RATE_GLOBAL="5/min")
def test_global_limit_and_refused_requests_do_not_use_it_up(clock):
    noisy = _client(address="192.0.2.1")
    statuses = [noisy.get("/console/login/").status_code for _ in range(10)]
    assert statuses == [200, 200] + [429] * 8
    # The 8 refused requests did not count globally: 3 more fit, from three addresses.
    for n in range(3):
        assert _client(address=f"192.0.2.{10 + n}").get("/console/login/").status_code == 200
    response = _client(address="192.0.2.20").get("/console/login/")
    assert response.status_code == 429
    assert response["Retry-After"] == "50"
    hits = dict(RateCounter.objects.values_list("key", "hits"))
    assert hits["global"] == 6  # five let through and the one refused globally
    assert hits["a:192.0.2.1"] == 10


@override_settings(KEIIN_RATE_USER="1/min", KEIIN_RATE_GLOBAL="1/min")
def test_other_paths_are_not_limited(client, clock, hierarchy):
    for _ in range(5):
        assert client.get("/repository/").status_code == 200
        assert client.get("/en/repository/notices/").status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get(f"/crl/{hierarchy.root.slug}.crl").status_code == 200
    assert not RateCounter.objects.exists()


@override_settings(KEIIN_RATE_USER="1/min", KEIIN_RATE_GLOBAL="off")
def test_partner_area_and_application_form_are_limited(client, clock):
    assert client.get("/p/nobody/login/").status_code == 404
    assert client.get("/en/p/nobody/login/").status_code == 429
    assert client.get("/apply/").status_code == 429


@override_settings(KEIIN_RATE_USER="off", KEIIN_RATE_GLOBAL="off")
def test_limits_can_be_switched_off(client, clock):
    for _ in range(5):
        assert client.get("/console/login/").status_code == 200
    assert not RateCounter.objects.exists()


@override_settings(KEIIN_RATE_USER="2/min", KEIIN_RATE_GLOBAL="off", KEIIN_RATE_STORE="cache")
def test_cache_store(clock):
    cache.clear()
    client = _client(address="203.0.113.5")
    assert [client.get("/console/login/").status_code for _ in range(3)] == [200, 200, 429]
    assert not RateCounter.objects.exists()
    clock["t"] += 60
    assert client.get("/console/login/").status_code == 200
    cache.clear()


# --------------------------------------------------------------------------- the database counter


def test_old_windows_are_forgotten(clock):
    counter = DatabaseCounter()
    counter.hit("k", 60, 61)
    counter.hit("k", 120, 61)
    counter.forget_before(120)
    assert list(RateCounter.objects.values_list("slot", flat=True)) == [120]


@pytest.mark.django_db(transaction=True)
def test_database_counter_is_exact_under_concurrency():
    """Threads (each with its own database connection, like worker processes) increment one
    counter: every hit is counted once and each caller sees a distinct running total."""
    threads, per_thread = 8, 25
    seen: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work() -> None:
        try:
            counter = DatabaseCounter()
            barrier.wait()
            for _ in range(per_thread):
                value = counter.hit("global", 0, 61)
                with lock:
                    seen.append(value)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    total = threads * per_thread
    assert sorted(seen) == list(range(1, total + 1))
    assert RateCounter.objects.get(key="global", slot=0).hits == total
    assert connection.vendor in ("sqlite", "postgresql")
