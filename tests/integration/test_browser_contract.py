"""Contracts acceptance: upload → operator seals → mail over SMTP → the signatory logs in with
the one-time password, reads, signs with the PIN → completed → download.

Playwright drives Debian's chromium (Japanese UI) against a real ``keiin serve`` whose mail
goes over SMTP to an aiosmtpd server in this process and whose clock is checked against an
SNTP server on loopback (the TSA refuses an unchecked clock here). Links and one-time
passwords are read from the mail that went over the wire. With the server stopped, the
downloaded copy is judged by the shared independent check (pyHanko AdES LTA validation
offline against Keiin's root, ``openssl cms -verify`` over each byte range, ``qpdf --check``).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from keiin.home import Home
from keiin.tsa.clock import ClockStatusFile
from tests.support import browser
from tests.support.ntp import NtpResponder
from tests.support.server import KeiinServer, start_server
from tests.support.smtp import running_smtp_server
from tests.unit.pdf.support import minimal_pdf

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(browser.skip_reason() is not None, reason=str(browser.skip_reason())),
]

PADES_CHECK = Path(__file__).resolve().parents[3] / "shared" / "checks" / "pades-check.py"
MANAGER = ("keiyaku.tantou", "Keiyaku-tantou-2026")  # operator staff: a contract manager
SIGNATORY_NAME = "署名 一郎"
SIGNATORY_EMAIL = "ichiro.contract@torihikisaki.example.jp"
PASSWORD = "Sakura-no-hana-2026"
SIGNER_PIN = "583920"
SEAL_PIN = "402817"
TITLE = "業務委託契約書"
COMPANY = {
    "name_ja": "契約試験株式会社",
    "name_en": "Keiyaku Shiken K.K.",
    "address": "東京都千代田区丸の内1-1-1",
    "representative_name": "代表 太郎",
    "representative_title": "代表取締役",
    "contact_name": "総務 花子",
    "contact_email": "soumu.contract@torihikisaki.example.jp",
    "contact_phone": "03-0000-0000",
}


def _server_env(smtp_port: int, ntp_port: int) -> dict[str, str]:
    return {
        "KEIIN_MAIL": "smtp",
        "KEIIN_SMTP_HOST": "127.0.0.1",
        "KEIIN_SMTP_PORT": str(smtp_port),
        "KEIIN_MAIL_FROM": "keiin@operator.example.jp",
        # A checked clock: the in-process TSA of the signing path refuses an unchecked one.
        "KEIIN_NTP_SERVERS": f"127.0.0.1:{ntp_port}",
        "KEIIN_NTP_INTERVAL": "1",
        "KEIIN_TSA_ALLOW_UNCHECKED_CLOCK": "0",
        # A cheap Argon2id for the PINs (the parameters are recorded with each credential).
        "KEIIN_CUSTODY_ARGON2_TIME": "1",
        "KEIIN_CUSTODY_ARGON2_MEMORY_KIB": "1024",
    }


def _wait_for_trusted_clock(server: KeiinServer, timeout: float = 30.0) -> None:
    """Until ``keiin serve``'s clock monitor has written "ok" to the shared status file."""
    status_file = ClockStatusFile(Home(server.home).run / "clock.status")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = status_file.read()
            if status.state == "ok":
                return
            time.sleep(0.2)
        raise AssertionError(f"the server's clock was never checked: {status}")
    finally:
        status_file.close()


def _wait_for(page, condition, *, timeout_ms: int) -> bool:
    """Whether ``condition()`` became true within ``timeout_ms`` (Playwright keeps serving
    the page's events meanwhile)."""
    for _ in range(timeout_ms // 100):
        if condition():
            return True
        page.wait_for_timeout(100)
    return condition()


def test_contract_from_upload_to_validated_download(tmp_path):
    with NtpResponder() as ntp, running_smtp_server() as smtp:
        server = start_server(tmp_path / "home", extra_env=_server_env(smtp.port, ntp.port))
        try:
            with browser.chromium() as chromium:
                signed, root_pem, untranslated = _flow(server, smtp, chromium, tmp_path)
        except BaseException:
            print(f"--- server log\n{server.log()[-20_000:]}")
            raise
        finally:
            server.stop()

    # ---------------------------------------------------------------- the independent check
    # (the server is stopped: validation is offline, from what the file embeds)
    if PADES_CHECK.exists():
        check = subprocess.run(
            [sys.executable, str(PADES_CHECK), str(signed), str(root_pem),
             "--expect-signatures", "2", "--expect-level", "LTA"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        report = check.stdout + check.stderr
        assert check.returncode == 0, report
        assert check.stdout.rstrip().endswith(" 0 failed"), report
        assert check.stdout.count("AdES LTA validation PASSED") == 2, report
        assert check.stdout.count("openssl cms verifies the byte range") == 2, report
        assert "ok   qpdf --check" in check.stdout, report

    # The contract pages speak Japanese (checked last so the flow above is judged first).
    assert not untranslated, "English text where Japanese was expected:\n" + "\n".join(untranslated)
    if not PADES_CHECK.exists():
        pytest.skip(f"the shared acceptance check is not present: {PADES_CHECK}")


def _flow(server: KeiinServer, smtp, chromium, tmp_path: Path) -> tuple[Path, Path, list[str]]:
    from playwright.sync_api import expect

    base = server.url
    dump = browser.dump
    untranslated: list[str] = []

    def japanese(text: str, where: str) -> None:
        if not browser.JAPANESE.search(text):
            untranslated.append(f"{where}: {text.strip()[:120]!r}")

    browser.create_staff(server, *MANAGER, display_name="契約 担当")
    partner = browser.new_page(chromium)  # the partner's signatory (one browser context)
    operator = browser.new_page(chromium)  # the contract manager's console (another)

    with browser.screenshots_on_failure({"partner": partner, "operator": operator}, tmp_path):
        # ------------------------------------------------------------ 1. a partner signatory
        reference = browser.apply_for_partner(
            partner, base, COMPANY, [(SIGNATORY_NAME, SIGNATORY_EMAIL, "signatory")]
        )
        browser.staff_login(operator, base, *MANAGER)
        browser.approve_application(operator, reference)
        login_id, slug = browser.accept_invitation(partner, smtp, base, SIGNATORY_EMAIL, PASSWORD)
        browser.partner_login(partner, smtp, base, slug, login_id, SIGNATORY_EMAIL, PASSWORD)
        expect(partner.locator("[data-company]")).to_have_text(COMPANY["name_ja"])
        serial = browser.request_certificate(partner, slug, SIGNER_PIN)
        assert re.fullmatch(r"[0-9a-f]{16,40}", serial), dump(partner)

        # ------------------------------------------------------------ 2. the organisation seal
        operator.locator("nav a[href='/console/contracts/']").click()
        expect(operator.locator("h1")).to_be_visible()
        japanese(operator.locator("h1").inner_text(), "console contract list, heading")
        operator.locator("main a[href='/console/seal/']").click()
        japanese(operator.locator("h1").inner_text(), "seal page, heading")
        create = operator.locator("form:has(input[name='action'][value='create'])")
        create.locator("[name='pin']").fill(SEAL_PIN)
        create.locator("[name='pin_confirm']").fill(SEAL_PIN)
        create.locator("[name='acknowledge']").check()
        create.locator("button[type='submit']").click()
        expect(operator.locator("[data-seal-status]")).to_have_attribute(
            "data-seal-status", "active", timeout=60_000
        )
        japanese(operator.locator(".messages").inner_text(), "seal created, message")

        # ------------------------------------------------------------ 3. upload the PDF
        pdf = tmp_path / "keiyakusho.pdf"
        pdf.write_bytes(minimal_pdf(2))
        operator.locator("nav a[href='/console/contracts/']").click()
        operator.locator("main a[href='/console/contracts/new/']").click()
        japanese(operator.locator("h1").inner_text(), "new contract, heading")
        operator.locator("[name='partner']").select_option(label=COMPANY["name_ja"])
        operator.locator("input[name='source'][value='upload']").check()
        operator.locator("main form button[type='submit']").click()
        operator.wait_for_url(re.compile(r"/console/contracts/new/\d+/$"))
        expect(operator.locator("main .lead")).to_contain_text(COMPANY["name_ja"])
        form = operator.locator("main form")
        form.locator("[name='title']").fill(TITLE)
        form.locator("[name='contract_date']").fill("2026-11-01")
        form.locator("[name='amount']").fill("1234567")
        form.locator("[name='starts_on']").fill("2026-12-01")
        form.locator("[name='ends_on']").fill("2027-11-30")
        form.locator("[name='signatory_1']").select_option(label=SIGNATORY_NAME)
        form.locator("[name='file']").set_input_files(str(pdf))
        japanese(form.locator("button[type='submit']").inner_text(), "upload form, button")
        form.locator("button[type='submit']").click()
        operator.wait_for_url(re.compile(r"/console/contracts/[^/]+/$"))
        public_id = operator.url.rstrip("/").rsplit("/", 1)[1]
        assert public_id not in ("new", "contracts"), dump(operator)
        expect(operator.locator("h1")).to_have_text(TITLE)
        status = operator.locator("[data-contract-status]")
        expect(status).to_have_attribute("data-contract-status", "draft")
        japanese(status.inner_text(), "console contract status (draft)")
        contract_ref = operator.locator("code[data-reference]").inner_text().strip()
        assert contract_ref, dump(operator)

        # ------------------------------------------------------------ 4. the operator seals
        _wait_for_trusted_clock(server)
        mails_before = len(smtp.to(SIGNATORY_EMAIL))
        seal = operator.locator("form:has(input[name='action'][value='seal'])")
        japanese(operator.locator("#seal-heading").inner_text(), "seal form, heading")
        seal.locator("[name='pin']").fill(SEAL_PIN)
        browser.tick(seal.locator("[name='confirm']"))
        seal.locator("button[type='submit']").click()
        expect(status).to_have_attribute("data-contract-status", "signing", timeout=90_000)
        expect(operator.locator("tr[data-version='1']")).to_have_attribute(
            "data-validation", "passed"
        )
        japanese(operator.locator(".messages").inner_text(), "sealed, message")

        # ------------------------------------------------------------ 5. the mail arrives
        waiting = browser.wait_for_mail(
            smtp,
            SIGNATORY_EMAIL,
            after=mails_before,
            match=lambda m: f"/contracts/{public_id}/" in m.body,
        )
        assert contract_ref in waiting.body and TITLE in waiting.body, waiting.body
        japanese(waiting.subject, "sign request mail, subject")
        link = next(
            u for u in re.findall(r"https?://\S+", waiting.body) if f"/contracts/{public_id}/" in u
        )
        assert link.startswith(f"{base}/") and f"/p/{slug}/" in link, waiting.body

        # ------------------------------------------------------------ 6. the signatory reads
        # A fresh login (the session of step 1 is dropped), as someone coming from the mail:
        # the mail's link leads to the login, then the OTP, then back to the contract.
        partner.context.clear_cookies()
        partner.goto(link)
        assert f"/p/{slug}/login/?next=" in partner.url, dump(partner)
        browser.partner_login(
            partner, smtp, base, slug, login_id, SIGNATORY_EMAIL, PASSWORD, lands_on=link
        )
        expect(partner.locator("h1")).to_have_text(TITLE)
        # The contract list shows it as waiting for this signatory.
        partner.goto(f"{base}/p/{slug}/contracts/")
        japanese(partner.locator("h1").inner_text(), "partner contract list, heading")
        row = partner.locator(f"tr[data-contract='{public_id}']")
        expect(row).to_have_attribute("data-status", "signing")
        expect(row.locator(".badge")).to_have_count(1)  # "your signature is needed"
        # The mail's link again, now logged in. The page's iframe fetches the document
        # (headless chromium may show it or take it as a download); if it did not, the
        # signatory opens the whole document from its link.
        document = re.compile(rf"/p/{slug}/contracts/{public_id}/document/$")
        fetched: list[str] = []  # requests for the document, from any page of the context
        partner.context.on(
            "request", lambda r: fetched.append(r.url) if document.search(r.url) else None
        )
        partner.goto(link)
        if not _wait_for(partner, lambda: bool(fetched), timeout_ms=15_000):
            partner.locator("a[data-open]").click()  # a new tab (or a download)
            assert _wait_for(partner, lambda: bool(fetched), timeout_ms=15_000), dump(partner)
        expect(partner.locator("h1")).to_have_text(TITLE)
        assert partner.locator("html").get_attribute("lang") == "ja", dump(partner)
        expect(partner.locator("[data-contract-status]")).to_have_attribute(
            "data-contract-status", "signing"
        )
        sign = partner.locator("[data-sign]")
        japanese(sign.locator("h2").inner_text(), "partner sign form, heading")
        # Opening the document counted as reading it: the reminder to read goes away.
        unread = sign.locator("p.notice:not(.notice--bad)")
        for _attempt in range(50):
            partner.reload()
            if unread.count() == 0:
                break
            partner.wait_for_timeout(200)
        expect(unread).to_have_count(0)

        # ------------------------------------------------------------ 7. signs with the PIN
        mails_before = len(smtp.to(SIGNATORY_EMAIL))
        sign.locator("[name='pin']").fill(SIGNER_PIN)
        browser.tick(sign.locator("[name='read']"))
        japanese(sign.locator("button[type='submit']").inner_text(), "sign button")
        sign.locator("button[type='submit']").click()
        status = partner.locator("[data-contract-status]")
        expect(status).to_have_attribute("data-contract-status", "completed", timeout=90_000)
        japanese(status.inner_text(), "partner contract status (completed)")
        expect(partner.locator("tr[data-signer='1']")).to_have_attribute("data-status", "signed")
        expect(partner.locator("[data-sign]")).to_have_count(0)
        original = partner.locator("code[data-original]").inner_text().strip()
        assert re.fullmatch(r"[0-9a-f]{64}", original), dump(partner)
        concluded = browser.wait_for_mail(
            smtp, SIGNATORY_EMAIL, after=mails_before, match=lambda m: original in m.body
        )
        japanese(concluded.subject, "concluded mail, subject")

        # ------------------------------------------------------------ 8. download a copy
        with partner.expect_download() as info:
            partner.locator("a[data-download]").click()
        download = info.value
        assert download.suggested_filename.endswith(".pdf"), download.suggested_filename
        signed = tmp_path / "signed-copy.pdf"
        download.save_as(signed)
        body = signed.read_bytes()
        assert body.startswith(b"%PDF-"), body[:64]
        assert hashlib.sha256(body).hexdigest() == original

        # The console shows the same: completed, three versions, the last one validated.
        operator.reload()
        expect(operator.locator("[data-contract-status]")).to_have_attribute(
            "data-contract-status", "completed"
        )
        expect(operator.locator("tr[data-version]")).to_have_count(3)
        expect(operator.locator("tr[data-version='2']")).to_have_attribute(
            "data-validation", "passed"
        )

        # Keiin's root certificate, as published (fetched while the server runs).
        rows = server.sql("SELECT slug FROM ca_certificateauthority WHERE parent_id IS NULL")
        assert len(rows) == 1, rows
        root_pem = tmp_path / "root.pem"
        with urllib.request.urlopen(f"{base}/ca/{rows[0][0]}.pem", timeout=10) as response:
            root_pem.write_bytes(response.read())
        assert root_pem.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    return signed, root_pem, untranslated
