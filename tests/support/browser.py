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
    from playwright.sync_api import Browser, Page

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
