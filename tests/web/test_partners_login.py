"""Partner login (terms clause 10): own login URL, password, e-mailed one-time password,
lockouts with backoff, password reset, sessions and CSRF."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from keiin.web.accounts.models import Role, User
from keiin.web.audit.models import AuditEvent
from keiin.web.partners import login, services, throttle
from keiin.web.partners.models import LoginAttempt, LoginLock, Partner
from keiin.web.partners.tokens import invitation_tokens
from tests.support.partners import (
    PASSWORD,
    client_for,
    code_step,
    log_in,
    logged_in_user_id,
    make_staff,
    password_step,
    register,
)

pytest_plugins = ["tests.support.smtp"]
pytestmark = pytest.mark.django_db

INVALID_LOGIN = "ログインIDまたはパスワードが正しくないか"
INVALID_CODE = "ワンタイムパスワードが正しくないか、有効期限が切れています"
LOCKED = "失敗が続いたため"


def _text(response) -> str:
    return response.content.decode()


@pytest.fixture
def acme(smtp_server):
    return register(smtp_server)


@pytest.fixture
def other(smtp_server):
    return register(smtp_server, name_en="Other Co", email="hanako@other.example.jp")


def _code_for(client: Client, smtp_server, registered) -> str:
    response = password_step(client, registered.slug, registered.user.login_id, PASSWORD)
    assert response.status_code == 302
    return smtp_server.otp_for(registered.user.email)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# --------------------------------------------------------------------------- pages


def test_login_page_names_the_company_in_both_languages(client, acme):
    page = client.get(f"/p/{acme.slug}/login/")
    assert page.status_code == 200
    html = _text(page)
    assert '<html lang="ja">' in html
    assert "取引先株式会社" in html
    assert "ワンタイムパスワード" in html
    assert "csrfmiddlewaretoken" in html
    english = client.get(f"/en/p/{acme.slug}/login/")
    assert english.status_code == 200
    assert "Torihikisaki K.K." in _text(english)
    assert "one-time password" in _text(english)


def test_unknown_login_url_is_404(client, db):
    assert client.get("/p/no-such-partner/login/").status_code == 404


def test_home_needs_login(client, acme):
    response = client.get(f"/p/{acme.slug}/")
    assert response.status_code == 302
    assert response["Location"] == f"/p/{acme.slug}/login/?next=%2Fp%2F{acme.slug}%2F"


def test_after_login_the_page_asked_for_is_shown(client, smtp_server, acme):
    """A link from a mail (e.g. a contract) survives the login; foreign targets do not."""
    wanted = f"/p/{acme.slug}/certificate/?tab=1"
    login_url = client.get(wanted)["Location"]
    assert client.get(login_url).status_code == 200
    response = log_in(client, smtp_server, acme)
    assert response["Location"] == wanted
    for foreign in ("https://evil.example/", "//evil.example/x", "/p/other-partner/", "/console/"):
        other = Client()
        other.get(f"/p/{acme.slug}/login/", {"next": foreign})
        assert log_in(other, smtp_server, acme)["Location"] == f"/p/{acme.slug}/"


# --------------------------------------------------------------------------- the happy path


def test_login_with_password_and_emailed_code(client, smtp_server, acme):
    user = acme.user
    client.get(f"/p/{acme.slug}/login/")
    response = password_step(client, acme.slug, user.login_id, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == f"/p/{acme.slug}/login/code/"
    assert logged_in_user_id(client) is None  # not logged in after the password alone
    mail = smtp_server.last_to(user.email)
    code = smtp_server.otp_for(user.email)
    assert re.fullmatch(r"\d{6}", code)
    assert "10分" in mail.body
    attempt = LoginAttempt.objects.get(user=user)
    assert code not in attempt.code_hash and attempt.code_hash != code  # only a hash stored
    assert attempt.code_hash == login.code_hash(attempt.pk, code)
    assert attempt.expires_at - attempt.created_at == dt.timedelta(seconds=600)
    page = client.get(f"/p/{acme.slug}/login/code/")
    assert page.status_code == 200
    before = client.session.session_key

    response = code_step(client, acme.slug, code)
    assert response.status_code == 302
    assert response["Location"] == f"/p/{acme.slug}/"
    assert logged_in_user_id(client) == str(user.pk)
    assert client.session.session_key != before  # rotated on login
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    home = client.get(f"/p/{acme.slug}/")
    assert home.status_code == 200
    assert "取引先株式会社" in _text(home)
    assert "署名権限者" in _text(home)
    attempt.refresh_from_db()
    assert attempt.outcome == LoginAttempt.Outcome.USED
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "partner.login.password_ok" in actions and "partner.login.succeeded" in actions
    assert not any(code in str(e.data) for e in AuditEvent.objects.all())


def test_login_in_english_sends_the_code_in_english(client, smtp_server, acme):
    response = password_step(client, acme.slug, acme.user.login_id, PASSWORD, prefix="/en")
    assert response["Location"] == f"/en/p/{acme.slug}/login/code/"
    assert smtp_server.last_to(acme.user.email).subject == "Your one-time password"
    code = smtp_server.otp_for(acme.user.email)
    response = code_step(client, acme.slug, code, prefix="/en")
    assert response["Location"] == f"/en/p/{acme.slug}/"
    assert "Your registration" in _text(client.get(f"/en/p/{acme.slug}/"))


def test_partner_user_home_has_no_certificate_section(client, smtp_server):
    viewer = register(smtp_server, email="viewer@example.jp", role=Role.PARTNER_USER)
    log_in(client, smtp_server, viewer)
    html = _text(client.get(f"/p/{viewer.slug}/"))
    assert "利用者" in html
    assert 'id="signatory-certificate"' not in html


def test_logout(client, smtp_server, acme):
    log_in(client, smtp_server, acme)
    response = client.post(f"/p/{acme.slug}/logout/")
    assert response["Location"] == f"/p/{acme.slug}/login/"
    assert logged_in_user_id(client) is None
    assert client.get(f"/p/{acme.slug}/").status_code == 302


# --------------------------------------------------------------------------- generic errors


def test_wrong_password_and_unknown_user_look_the_same(client, smtp_server, acme):
    smtp_server.clear()
    wrong = password_step(client, acme.slug, acme.user.login_id, "not the password")
    unknown = password_step(client, acme.slug, "nobody-01", "not the password")
    assert wrong.status_code == unknown.status_code == 200
    assert INVALID_LOGIN in _text(wrong) and INVALID_LOGIN in _text(unknown)
    strip = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"|value="[^"]*"')
    assert strip.sub("", _text(wrong)) == strip.sub("", _text(unknown))
    assert smtp_server.messages == []
    assert not LoginAttempt.objects.exists()


def test_user_of_partner_a_cannot_log_in_at_partner_b(client, smtp_server, acme, other):
    smtp_server.clear()
    response = password_step(client, other.slug, acme.user.login_id, PASSWORD)
    assert response.status_code == 200
    assert INVALID_LOGIN in _text(response)
    assert smtp_server.messages == []
    assert not LoginAttempt.objects.exists()
    # and a logged-in user of A gets nothing of B
    log_in(client, smtp_server, acme)
    assert client.get(f"/p/{other.slug}/").status_code == 404
    assert client.get(f"/p/{acme.slug}/").status_code == 200


def test_code_of_partner_a_attempt_is_refused_at_partner_b(client, smtp_server, acme, other):
    code = _code_for(client, smtp_server, acme)
    attempt_id = client.session["keiin.partners.pending_login"]["attempt"]
    outcome = login.check_code(attempt_id, other.partner, code, address="127.0.0.1")
    assert outcome.result is login.Result.INVALID
    # The session's pending login belongs to A: B's code page sends back to B's login.
    assert client.get(f"/p/{other.slug}/login/code/")["Location"] == f"/p/{other.slug}/login/"


def test_restricted_partner_cannot_log_in_and_is_logged_out(smtp_server, acme):
    active = Client()
    log_in(active, smtp_server, acme)
    services.set_partner_status(acme.partner, Partner.Status.RESTRICTED, "調査中", actor="test")
    # The open session ends at the next request.
    response = active.get(f"/p/{acme.slug}/")
    assert response.status_code == 302
    assert logged_in_user_id(active) is None
    smtp_server.clear()
    client = Client()
    response = password_step(client, acme.slug, acme.user.login_id, PASSWORD)
    assert response.status_code == 200
    assert INVALID_LOGIN in _text(response)
    assert smtp_server.to(acme.user.email) == []
    # refused likewise; the data is kept
    services.set_partner_status(acme.partner, Partner.Status.REFUSED, "反社会的勢力", actor="test")
    assert INVALID_LOGIN in _text(password_step(client, acme.slug, acme.user.login_id, PASSWORD))
    assert User.objects.filter(pk=acme.user.pk, is_active=True).exists()


def test_restriction_ends_a_pending_code(client, smtp_server, acme):
    code = _code_for(client, smtp_server, acme)
    services.set_partner_status(acme.partner, Partner.Status.RESTRICTED, "調査中", actor="test")
    assert LoginAttempt.objects.get().outcome == LoginAttempt.Outcome.CANCELLED
    response = code_step(client, acme.slug, code)
    assert INVALID_CODE in _text(response)
    assert logged_in_user_id(client) is None


def test_removed_user_cannot_log_in(client, smtp_server, acme):
    services.remove_user(acme.user, "退職", actor="test")
    response = password_step(client, acme.slug, acme.user.login_id, PASSWORD)
    assert INVALID_LOGIN in _text(response)


def test_operator_staff_cannot_log_in_at_a_partner_url(client, acme):
    staff = make_staff()
    response = password_step(client, acme.slug, staff.login_id, "correct horse battery staple")
    assert INVALID_LOGIN in _text(response)


def test_partner_user_cannot_open_console_pages(client, smtp_server, acme):
    log_in(client, smtp_server, acme)
    for path in (
        "/console/tsa/",
        "/console/applications/",
        "/console/partners/",
        f"/console/partners/{acme.partner.pk}/",
        f"/console/partners/{acme.partner.pk}/people/{acme.user.pk}/",
    ):
        assert client.get(path).status_code == 403, path
    response = client.post(
        f"/console/partners/{acme.partner.pk}/",
        {"status": "restricted", "reason": "x"},
    )
    assert response.status_code == 403
    acme.partner.refresh_from_db()
    assert acme.partner.status == Partner.Status.ACTIVE


# --------------------------------------------------------------------------- the code


def test_code_cannot_be_used_twice(client, smtp_server, acme):
    code = _code_for(client, smtp_server, acme)
    attempt_id = client.session["keiin.partners.pending_login"]["attempt"]
    replay = Client()  # someone holding a copy of the pre-login session cookie
    name = settings.SESSION_COOKIE_NAME
    replay.cookies[name] = client.cookies[name].value
    assert code_step(client, acme.slug, code)["Location"] == f"/p/{acme.slug}/"
    response = code_step(replay, acme.slug, code)
    assert logged_in_user_id(replay) is None
    assert response["Location"] == f"/p/{acme.slug}/login/"  # that session no longer exists
    again = login.check_code(attempt_id, acme.partner, code, address="127.0.0.1")
    assert again.result is login.Result.INVALID
    assert LoginAttempt.objects.get().outcome == LoginAttempt.Outcome.USED


def test_expired_code_fails(client, smtp_server, acme):
    code = _code_for(client, smtp_server, acme)
    LoginAttempt.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = code_step(client, acme.slug, code)
    assert response.status_code == 200
    assert INVALID_CODE in _text(response)
    assert logged_in_user_id(client) is None


def test_code_lifetime_follows_the_setting(client, smtp_server, acme, settings):
    settings.KEIIN_OTP_TTL = 120
    _code_for(client, smtp_server, acme)
    attempt = LoginAttempt.objects.get()
    assert attempt.expires_at - attempt.created_at == dt.timedelta(seconds=120)
    assert "2分" in smtp_server.last_to(acme.user.email).body


def test_code_from_another_attempt_fails(smtp_server, acme, monkeypatch):
    codes = iter(["111111", "222222"])
    monkeypatch.setattr(login, "new_code", lambda: next(codes))
    first, second = Client(), Client()
    assert _code_for(first, smtp_server, acme) == "111111"
    assert _code_for(second, smtp_server, acme) == "222222"
    superseded = LoginAttempt.objects.get(outcome=LoginAttempt.Outcome.SUPERSEDED)
    assert superseded.pk == first.session["keiin.partners.pending_login"]["attempt"]
    # The first attempt's code does not open the second attempt...
    assert INVALID_CODE in _text(code_step(second, acme.slug, "111111"))
    # ...and the first attempt, superseded, accepts nothing, not even its own code.
    assert INVALID_CODE in _text(code_step(first, acme.slug, "111111"))
    assert INVALID_CODE in _text(code_step(first, acme.slug, "222222"))
    assert logged_in_user_id(first) is None and logged_in_user_id(second) is None
    # The code is bound to its attempt id: the same digits hash differently elsewhere.
    a, b = LoginAttempt.objects.all()
    assert login.code_hash(a.pk, "123456") != login.code_hash(b.pk, "123456")
    # The second attempt still works with its own code.
    assert code_step(second, acme.slug, "222222")["Location"] == f"/p/{acme.slug}/"


def test_spaces_in_the_code_are_ignored(client, smtp_server, acme):
    code = _code_for(client, smtp_server, acme)
    assert code_step(client, acme.slug, f" {code[:3]} {code[3:]} ").status_code == 302
    assert logged_in_user_id(client) is not None


def test_code_page_without_a_password_step_goes_back_to_login(client, acme):
    response = client.get(f"/p/{acme.slug}/login/code/")
    assert response["Location"] == f"/p/{acme.slug}/login/"
    response = code_step(client, acme.slug, "123456")
    assert response["Location"] == f"/p/{acme.slug}/login/"


# --------------------------------------------------------------------------- lockouts


def _lock(scope: str, key: str) -> LoginLock:
    return LoginLock.objects.get(scope=scope, key=key)


def _expire(scope: str, key: str) -> None:
    LoginLock.objects.filter(scope=scope, key=key).update(
        locked_until=timezone.now() - dt.timedelta(seconds=1)
    )


def test_password_lockout_per_account_after_5_failures_with_doubling(client, smtp_server, acme):
    login_id = acme.user.login_id
    for attempt in range(1, 5):
        response = password_step(client, acme.slug, login_id, "wrong password")
        assert INVALID_LOGIN in _text(response), attempt
    fifth = password_step(client, acme.slug, login_id, "wrong password")
    assert LOCKED in _text(fifth)
    row = _lock(throttle.PASSWORD_ACCOUNT, login_id)
    assert row.locked_until - row.last_failure_at == dt.timedelta(minutes=15)
    smtp_server.clear()
    # Even the right password (in any case) is refused while locked, and no code is sent.
    response = password_step(client, acme.slug, login_id.upper(), PASSWORD)
    assert LOCKED in _text(response)
    assert smtp_server.messages == []
    # After the lock: 5 more failures lock for twice as long (30, then 60 minutes).
    for minutes in (30, 60):
        _expire(throttle.PASSWORD_ACCOUNT, login_id)
        for _ in range(5):
            password_step(client, acme.slug, login_id, "wrong password")
        row = _lock(throttle.PASSWORD_ACCOUNT, login_id)
        assert row.locked_until - row.last_failure_at == dt.timedelta(minutes=minutes)
    # Once the lock has passed the right password works and forgets the failures.
    _expire(throttle.PASSWORD_ACCOUNT, login_id)
    assert password_step(client, acme.slug, login_id, PASSWORD).status_code == 302
    assert not LoginLock.objects.filter(scope=throttle.PASSWORD_ACCOUNT, key=login_id).exists()


def test_four_failures_do_not_lock(client, smtp_server, acme):
    for _ in range(4):
        password_step(client, acme.slug, acme.user.login_id, "wrong password")
    assert password_step(client, acme.slug, acme.user.login_id, PASSWORD).status_code == 302


def test_unknown_login_ids_lock_the_same_way(client, acme):
    for _ in range(5):
        response = password_step(client, acme.slug, "ghost-01", "wrong password")
    assert LOCKED in _text(response)
    assert _lock(throttle.PASSWORD_ACCOUNT, "ghost-01").locked_until is not None


def test_password_lockout_per_address_after_20_failures(smtp_server, acme):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for index in range(19):
        response = password_step(attacker, acme.slug, f"guess-{index}", "wrong password")
        assert INVALID_LOGIN in _text(response)
    response = password_step(attacker, acme.slug, "guess-19", "wrong password")
    assert LOCKED in _text(response)
    assert _lock(throttle.PASSWORD_ADDRESS, "203.0.113.9").locked_until is not None
    # The address is locked for every account, even with the right password...
    assert LOCKED in _text(password_step(attacker, acme.slug, acme.user.login_id, PASSWORD))
    # ...while the same account logs in from another address.
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    assert password_step(elsewhere, acme.slug, acme.user.login_id, PASSWORD).status_code == 302


def test_ipv6_addresses_count_per_64_network(smtp_server, acme):
    for index in range(20):
        client = Client(REMOTE_ADDR=f"2001:db8:1:2::{index + 1:x}")
        password_step(client, acme.slug, f"guess-{index}", "wrong password")
    neighbour = Client(REMOTE_ADDR="2001:db8:1:2:ffff::1")
    assert LOCKED in _text(password_step(neighbour, acme.slug, acme.user.login_id, PASSWORD))


def test_otp_lockout_per_account_after_5_wrong_codes(client, smtp_server, acme):
    code = _code_for(client, smtp_server, acme)
    for attempt in range(1, 5):
        response = code_step(client, acme.slug, _wrong(code))
        assert INVALID_CODE in _text(response), attempt
    fifth = code_step(client, acme.slug, _wrong(code))
    assert LOCKED in _text(fifth)
    row = _lock(throttle.OTP_ACCOUNT, str(acme.user.pk))
    assert row.locked_until - row.last_failure_at == dt.timedelta(minutes=15)
    assert LoginAttempt.objects.get().outcome == LoginAttempt.Outcome.LOCKED
    # A new attempt's right code is refused while the account is locked.
    fresh = Client()
    new_code = _code_for(fresh, smtp_server, acme)
    assert LOCKED in _text(code_step(fresh, acme.slug, new_code))
    assert logged_in_user_id(fresh) is None
    # Backoff: the next lock lasts 30 minutes.
    _expire(throttle.OTP_ACCOUNT, str(acme.user.pk))
    again = Client()
    code = _code_for(again, smtp_server, acme)
    for _ in range(5):
        code_step(again, acme.slug, _wrong(code))
    row = _lock(throttle.OTP_ACCOUNT, str(acme.user.pk))
    assert row.locked_until - row.last_failure_at == dt.timedelta(minutes=30)


def test_otp_lockout_per_address_after_20_wrong_codes(smtp_server):
    people = [
        register(smtp_server, name_en=f"Company {n}", email=f"p{n}@example.jp") for n in range(5)
    ]
    address = "203.0.113.50"
    for person in people[:5]:  # 4 wrong codes each: no account lock, 20 for the address
        client = Client(REMOTE_ADDR=address)
        code = _code_for(client, smtp_server, person)
        for _ in range(4):
            response = code_step(client, person.slug, _wrong(code))
    assert LOCKED in _text(response)
    assert _lock(throttle.OTP_ADDRESS, address).locked_until is not None
    # A right code from that address is refused; from another address it works.
    client = Client(REMOTE_ADDR=address)
    code = _code_for(client, smtp_server, people[0])
    assert LOCKED in _text(code_step(client, people[0].slug, code))
    elsewhere = Client(REMOTE_ADDR="198.51.100.8")
    code = _code_for(elsewhere, smtp_server, people[0])
    assert code_step(elsewhere, people[0].slug, code)["Location"] == f"/p/{people[0].slug}/"


def test_lock_levels_are_forgotten_after_a_quiet_day(acme):
    key = "quiet-01"
    for _ in range(5):
        throttle.record_failure(throttle.PASSWORD_ACCOUNT, key)
    assert _lock(throttle.PASSWORD_ACCOUNT, key).level == 1
    LoginLock.objects.filter(key=key).update(
        locked_until=timezone.now() - dt.timedelta(hours=25),
        last_failure_at=timezone.now() - dt.timedelta(hours=25),
    )
    for _ in range(5):
        throttle.record_failure(throttle.PASSWORD_ACCOUNT, key)
    row = _lock(throttle.PASSWORD_ACCOUNT, key)
    assert row.locked_until - row.last_failure_at == dt.timedelta(minutes=15)


# --------------------------------------------------------------------------- CSRF


def _csrf(client: Client, path: str) -> str:
    page = client.get(path)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', _text(page)).group(1)


def test_login_forms_enforce_csrf(smtp_server, acme):
    client = Client(enforce_csrf_checks=True)
    login_path = f"/p/{acme.slug}/login/"
    data = {"login_id": acme.user.login_id, "password": PASSWORD}
    assert client.post(login_path, data).status_code == 403
    assert not LoginAttempt.objects.exists()
    token = _csrf(client, login_path)
    assert client.post(login_path, {**data, "csrfmiddlewaretoken": token}).status_code == 302
    code = smtp_server.otp_for(acme.user.email)
    code_path = f"/p/{acme.slug}/login/code/"
    assert client.post(code_path, {"code": code}).status_code == 403
    assert logged_in_user_id(client) is None
    token = _csrf(client, code_path)
    response = client.post(code_path, {"code": code, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert logged_in_user_id(client) is not None
    # logout too
    assert client.post(f"/p/{acme.slug}/logout/").status_code == 403


def test_password_reset_form_enforces_csrf(smtp_server, acme):
    client = Client(enforce_csrf_checks=True)
    smtp_server.clear()
    response = client.post(f"/p/{acme.slug}/password/", {"email": acme.user.email})
    assert response.status_code == 403
    assert smtp_server.messages == []


# --------------------------------------------------------------------------- passwords


def test_password_reset_by_email(client, smtp_server, acme):
    smtp_server.clear()
    response = client.post(f"/p/{acme.slug}/password/", {"email": acme.user.email.upper()})
    assert response["Location"] == f"/p/{acme.slug}/password/sent/"
    link = smtp_server.link_to(acme.user.email, "/password/")
    unknown = client.post(f"/p/{acme.slug}/password/", {"email": "nobody@example.jp"})
    assert unknown["Location"] == response["Location"]  # same answer, no mail
    assert len(smtp_server.messages) == 1
    form = client.get(link)
    assert form.status_code == 302
    new_password = "Momiji-no-aki-2026"
    done = client.post(
        form["Location"], {"new_password1": new_password, "new_password2": new_password}
    )
    assert done["Location"] == f"/p/{acme.slug}/login/"
    assert INVALID_LOGIN in _text(password_step(Client(), acme.slug, acme.user.login_id, PASSWORD))
    assert password_step(client, acme.slug, acme.user.login_id, new_password).status_code == 302
    # The link works once.
    assert "このリンクは無効です" in _text(Client().get(link, follow=True))


def test_reset_link_only_works_on_its_partners_url(client, smtp_server, acme, other):
    client.post(f"/p/{acme.slug}/password/", {"email": acme.user.email})
    link = smtp_server.link_to(acme.user.email, "/password/")
    foreign = link.replace(f"/p/{acme.slug}/", f"/p/{other.slug}/")
    assert "このリンクは無効です" in _text(client.get(foreign, follow=True))


def test_reset_requests_for_one_address_are_limited(client, smtp_server, acme):
    smtp_server.clear()
    for _ in range(7):
        client.post(f"/p/{acme.slug}/password/", {"email": acme.user.email})
    assert len(smtp_server.to(acme.user.email)) == 5


def test_expired_invitation_link_fails(smtp_server, monkeypatch):
    fresh = register(smtp_server, email="late@example.jp", password=None)
    link = smtp_server.link_to("late@example.jp", "/welcome/")
    later = invitation_tokens._now() + dt.timedelta(seconds=settings.KEIIN_INVITATION_TTL + 1)
    monkeypatch.setattr(invitation_tokens, "_now", lambda: later)
    assert "このリンクは無効です" in _text(Client().get(link, follow=True))
    assert not User.objects.get(pk=fresh.user.pk).has_usable_password()


def test_weak_password_is_refused_on_the_invitation(smtp_server):
    register(smtp_server, email="weak@example.jp", password=None)
    client = Client()
    form = client.get(smtp_server.link_to("weak@example.jp", "/welcome/"))
    response = client.post(
        form["Location"], {"new_password1": "12345678", "new_password2": "12345678"}
    )
    assert response.status_code == 200
    assert not User.objects.get(email="weak@example.jp").has_usable_password()


def test_staff_console_login_still_works(smtp_server, acme):
    staff = make_staff()
    client = Client()
    response = client.post(
        "/console/login/", {"username": staff.login_id, "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert client_for(staff).get("/console/partners/").status_code == 200
