"""Helpers for browser tests: Playwright driving Debian's chromium (never a downloaded browser).

``./run setup`` installs the ``chromium`` Debian package and the ``playwright`` Python package;
``playwright install`` is never used. Tests skip (with the reason) only when ``/usr/bin/chromium``
or the Python package is missing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

    from tests.support.server import KeiinServer
    from tests.support.smtp import Received, SmtpServer

CHROMIUM = Path("/usr/bin/chromium")


def skip_reason() -> str | None:
    """Why a browser test cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: install Debian's chromium package (./run setup does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing (pip install -e '.[test]')"
    return None


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Browser, *, locale: str = "ja-JP", timeout_ms: int = 30_000) -> Page:
    """A page in a fresh context (its own cookies) with a Japanese browser."""
    context = browser.new_context(locale=locale, timezone_id="Asia/Tokyo")
    context.set_default_timeout(timeout_ms)
    return context.new_page()


def dump(page: Page, limit: int = 12_000) -> str:
    """The page's URL and HTML for assertion messages (the ``<main>`` part when there is one)."""
    try:
        main = page.locator("main")
        html = main.first.inner_html(timeout=1_000) if main.count() else page.content()
    except Exception as exc:  # the page may be gone; the message must still be built
        html = f"(no HTML: {exc})"
    if len(html) > limit:
        html = html[:limit] + "\n… (cut)"
    return f"\n--- {page.url}\n{html}\n---"


@contextmanager
def screenshots_on_failure(pages: dict[str, Page], folder: Path) -> Iterator[None]:
    """On an exception, save a full-page screenshot and the HTML of every page into ``folder``
    and attach each page's URL and HTML to the exception (shown by pytest)."""
    try:
        yield
    except BaseException as exc:
        for name, page in pages.items():
            try:
                page.screenshot(path=str(folder / f"failure-{name}.png"), full_page=True)
                (folder / f"failure-{name}.html").write_text(page.content())
            except Exception:  # best effort while another error propagates
                pass
            exc.add_note(f"{name} page:{dump(page)}")
        raise


def tick(checkbox: Locator, *, attempts: int = 5) -> None:
    """Tick ``checkbox``. On a page embedding a PDF, Chromium's PDF viewer starting up in its
    iframe can swallow a click now and then (Playwright: "Clicking the checkbox did not
    change its state"), so the click is retried a few times."""
    from playwright.sync_api import Error

    for attempt in range(attempts):
        try:
            checkbox.check(timeout=5_000)
            return
        except Error:
            if attempt == attempts - 1:
                raise
            checkbox.page.wait_for_timeout(300)


def wait_for_mail(
    smtp: SmtpServer,
    address: str,
    *,
    after: int = 0,
    match: Callable[[Received], bool] | None = None,
    timeout: float = 30.0,
) -> Received:
    """The first mail to ``address`` beyond the ``after`` already there (and satisfying
    ``match``, when given), polling the SMTP server until ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in smtp.to(address)[after:]:
            if match is None or match(message):
                return message
        time.sleep(0.1)
    raise AssertionError(
        f"no such new mail to {address} within {timeout}s; "
        f"got {[(m.rcpt_tos, m.subject) for m in smtp.messages]}"
    )


def labelled_value(body: str, label: str) -> str:
    """The value after ``label:`` on a line of a plain-text mail."""
    found = re.search(rf"^{re.escape(label)}\s*[:：]\s*(\S+)\s*$", body, re.MULTILINE)
    assert found, f"no {label!r} line in the mail:\n{body}"
    return found.group(1)


# --------------------------------------------------------------------------- shared steps
# Steps of the browser tests that go through the same pages as a person would. ``expect`` is
# Playwright's, imported inside (the module must import without Playwright installed).

#: A Japanese letter (hiragana, katakana or a CJK ideograph).
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

_CREATE_STAFF = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keiin.web.settings")
import django
django.setup()
from keiin.web.accounts.models import User
login_id, email, role, name = sys.argv[1:5]
User.objects.create_user(login_id, email, os.environ["KEIIN_TEST_STAFF_PASSWORD"],
                         role=role, display_name=name)
"""


def create_staff(
    server: KeiinServer,
    login_id: str,
    password: str,
    *,
    role: str = "contract_manager",
    display_name: str = "",
) -> None:
    """Operator staff besides ``keiin init``'s administrator. Neither the console nor the CLI
    creates staff yet, so this runs Django's ORM in a subprocess with the server's
    environment (its home and database), as a deployment script would."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", _CREATE_STAFF, login_id, f"{login_id}@operator.example.jp",
         role, display_name],
        env={**server.env, "KEIIN_TEST_STAFF_PASSWORD": password},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def staff_login(page: Page, base: str, login_id: str, password: str) -> None:
    """Log in to the operator console."""
    from playwright.sync_api import expect

    page.goto(f"{base}/console/login/")
    expect(page.locator("h1")).to_have_text("コンソールへのログイン")
    page.locator("[name='username']").fill(login_id)
    page.locator("[name='password']").fill(password)
    page.locator("main").get_by_role("button", name="ログイン").click()
    page.wait_for_load_state()
    assert "/console/login/" not in page.url, dump(page)


def apply_for_partner(
    page: Page, base: str, company: dict[str, str], people: list[tuple[str, str, str]]
) -> str:
    """Fill in the public application form; return the application's reference."""
    from playwright.sync_api import expect

    page.goto(f"{base}/apply/")
    assert page.locator("html").get_attribute("lang") == "ja", dump(page)
    expect(page.locator("h1")).to_have_text("本サービスの利用申込み")
    for name, value in company.items():
        page.locator(f"[name='{name}']").fill(value)
    for index, (name, email, role) in enumerate(people):
        page.locator(f"[name='people-{index}-name']").fill(name)
        page.locator(f"[name='people-{index}-email']").fill(email)
        page.locator(f"[name='people-{index}-role']").select_option(role)
    page.locator("[name='accept_terms']").check()
    page.get_by_role("button", name="申し込む").click()
    expect(page.locator("h1")).to_have_text("お申込みを受け付けました")
    reference = page.locator("[data-reference]").inner_text().strip()
    assert reference, dump(page)
    return reference


def approve_application(page: Page, reference: str) -> None:
    """Operator staff (logged in) approve the application ``reference`` in the console."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="利用申込", exact=True).click()
    expect(page.locator("h1")).to_have_text("利用申込")
    page.locator(f"tr[data-reference='{reference}'] a").click()
    expect(page.locator("h1")).to_contain_text(reference)
    approve = page.locator("#action-approve")
    approve.get_by_role("button", name="承認").click()
    expect(page.locator(".messages")).to_contain_text("承認しました", timeout=30_000)


def accept_invitation(
    page: Page, smtp: SmtpServer, base: str, email: str, password: str, *, after: int = 0
) -> tuple[str, str]:
    """Follow the invitation mail to ``email`` and set ``password``; return the login ID and
    the partner's login slug (from the mail that went over SMTP)."""
    from playwright.sync_api import expect

    invitation = wait_for_mail(smtp, email, after=after)
    assert invitation.subject.strip() == "電子契約サービスのご利用について", invitation.subject
    login_id = labelled_value(invitation.body, "ログインID")
    links = re.findall(r"https?://\S+", invitation.body)
    welcome = next((u for u in links if "/welcome/" in u), None)
    assert welcome and welcome.startswith(base), invitation.body
    slug = re.search(r"/p/([^/]+)/welcome/", welcome).group(1)
    page.goto(welcome)
    expect(page.locator("h1")).to_have_text("パスワードの設定")
    page.locator("[name='new_password1']").fill(password)
    page.locator("[name='new_password2']").fill(password)
    page.get_by_role("button", name="パスワードを設定").click()
    expect(page.locator(".messages")).to_contain_text("パスワードを設定しました")
    assert page.url.endswith(f"/p/{slug}/login/"), dump(page)
    return login_id, slug


def partner_login(
    page: Page,
    smtp: SmtpServer,
    base: str,
    slug: str,
    login_id: str,
    email: str,
    password: str,
    *,
    lands_on: str | None = None,
) -> None:
    """Log in to the partner area: ID and password, then the one-time password from SMTP.

    Starting on the login page the browser was sent to (``…/login/?next=…``), the login ends
    on ``lands_on`` (the page asked for); otherwise on the partner's home page."""
    from playwright.sync_api import expect

    if f"/p/{slug}/login/" not in page.url:
        page.goto(f"{base}/p/{slug}/login/")
    expect(page.locator("h1")).to_have_text("ログイン")
    before = len(smtp.to(email))
    page.locator("[name='login_id']").fill(login_id)
    page.locator("[name='password']").fill(password)
    page.get_by_role("button", name="次へ").click()
    expect(page.locator("h1")).to_have_text("ワンタイムパスワード")
    otp_mail = wait_for_mail(smtp, email, after=before)
    code = re.search(r"^\s+(\d{6})\s*$", otp_mail.body, re.MULTILINE)
    assert code, otp_mail.body
    page.locator("[name='code']").fill(code.group(1))
    page.locator("main").get_by_role("button", name="ログイン").click()
    page.wait_for_url(lands_on or f"{base}/p/{slug}/")


def request_certificate(page: Page, slug: str, pin: str) -> str:
    """A signatory on their home page gets a signature certificate with ``pin``; returns
    the certificate's serial number (hex)."""
    from playwright.sync_api import expect

    page.locator(f"#signatory-certificate a[href$='/p/{slug}/certificate/']").click()
    expect(page.locator("h1")).to_have_text("署名用電子証明書")
    page.locator("[name='pin']").fill(pin)
    page.locator("[name='pin_confirm']").fill(pin)
    page.locator("[name='acknowledge']").check()
    page.locator("[data-request-certificate]").click()
    serial_cell = page.locator("code[data-serial]")
    expect(serial_cell).to_be_visible(timeout=60_000)
    expect(page.locator(".messages")).to_contain_text("署名用電子証明書を発行しました")
    return serial_cell.inner_text().strip()
