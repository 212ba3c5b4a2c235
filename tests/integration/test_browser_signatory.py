"""Issue 4 acceptance: a partner's signatory, from the application to a revoked certificate.

Playwright drives Debian's chromium (Japanese UI) against a real ``keiin serve`` whose mail
goes over SMTP to an aiosmtpd server in this process; one-time passwords and links are read
from the mail that went over the wire. OpenSSL judges the certificate's status over OCSP
before and after the operator revokes it in the console.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.support import browser
from tests.support.server import KeiinServer, start_server
from tests.support.smtp import running_smtp_server

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(browser.skip_reason() is not None, reason=str(browser.skip_reason())),
]

ADMIN = ("admin", "test-admin-password-1")  # what start_server's ``keiin init`` creates
SIGNATORY_EMAIL = "ichiro.browser@torihikisaki.example.jp"
USER_EMAIL = "jiro.browser@torihikisaki.example.jp"
CONTACT_EMAIL = "soumu.browser@torihikisaki.example.jp"
PASSWORD = "Sakura-no-hana-2026"
PIN = "284719"
TOKYO = ZoneInfo("Asia/Tokyo")


def _ca_issuer_pem(cert: x509.Certificate) -> x509.Certificate:
    """The issuer's certificate from the PEM endpoint named by the certificate's caIssuers."""
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    crt_url = next(
        d.access_location.value
        for d in aia
        if d.access_method == x509.AuthorityInformationAccessOID.CA_ISSUERS
    )
    assert crt_url.endswith(".crt"), crt_url
    with urllib.request.urlopen(crt_url[: -len(".crt")] + ".pem", timeout=10) as response:
        return x509.load_pem_x509_certificate(response.read())


def _ocsp_url(cert: x509.Certificate) -> str:
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    return next(
        d.access_location.value
        for d in aia
        if d.access_method == x509.AuthorityInformationAccessOID.OCSP
    )


def _openssl_ocsp(files: dict[str, Path], url: str) -> str:
    out = subprocess.run(
        ["openssl", "ocsp", "-issuer", str(files["issuing"]), "-cert", str(files["cert"]),
         "-url", url, "-CAfile", str(files["chain"]), "-resp_text"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return out.stdout + out.stderr


def _write_pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certs))
    return path


def _server_env(smtp_port: int) -> dict[str, str]:
    return {
        "KEIIN_MAIL": "smtp",
        "KEIIN_SMTP_HOST": "127.0.0.1",
        "KEIIN_SMTP_PORT": str(smtp_port),
        "KEIIN_MAIL_FROM": "keiin@operator.example.jp",
        # A cheap Argon2id for the PIN (the parameters are recorded with each credential).
        "KEIIN_CUSTODY_ARGON2_TIME": "1",
        "KEIIN_CUSTODY_ARGON2_MEMORY_KIB": "1024",
    }


def test_signatory_from_application_to_revoked_certificate(tmp_path):
    with running_smtp_server() as smtp:
        server = start_server(tmp_path / "home", extra_env=_server_env(smtp.port))
        try:
            with browser.chromium() as chromium:
                _flow(server, smtp, chromium, tmp_path)
        except BaseException:
            print(f"--- server log\n{server.log()[-20_000:]}")
            raise
        finally:
            server.stop()


def _flow(server: KeiinServer, smtp, chromium, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    base = server.url
    applicant = browser.new_page(chromium)  # the partner's side (one browser context)
    operator = browser.new_page(chromium)  # the operator's console (another context)
    dump = browser.dump

    with browser.screenshots_on_failure({"partner": applicant, "operator": operator}, tmp_path):
        # ---------------------------------------------------------------- 1. application
        applicant.goto(f"{base}/apply/")
        assert applicant.locator("html").get_attribute("lang") == "ja", dump(applicant)
        expect(applicant.locator("h1")).to_have_text("本サービスの利用申込み")
        company = {
            "name_ja": "ブラウザ試験株式会社",
            "name_en": "Browser Shiken K.K.",
            "address": "東京都千代田区丸の内1-1-1",
            "representative_name": "代表 太郎",
            "representative_title": "代表取締役",
            "contact_name": "総務 花子",
            "contact_email": CONTACT_EMAIL,
            "contact_phone": "03-0000-0000",
        }
        for name, value in company.items():
            applicant.locator(f"[name='{name}']").fill(value)
        people = [
            ("署名 一郎", SIGNATORY_EMAIL, "signatory"),
            ("閲覧 次郎", USER_EMAIL, "partner_user"),
        ]
        for index, (name, email, role) in enumerate(people):
            applicant.locator(f"[name='people-{index}-name']").fill(name)
            applicant.locator(f"[name='people-{index}-email']").fill(email)
            applicant.locator(f"[name='people-{index}-role']").select_option(role)
        applicant.locator("[name='accept_terms']").check()
        applicant.get_by_role("button", name="申し込む").click()
        expect(applicant.locator("h1")).to_have_text("お申込みを受け付けました")
        reference = applicant.locator("[data-reference]").inner_text().strip()
        assert reference, dump(applicant)

        # ---------------------------------------------------------------- 2. operator approves
        operator.goto(f"{base}/console/login/")
        expect(operator.locator("h1")).to_have_text("コンソールへのログイン")
        operator.locator("[name='username']").fill(ADMIN[0])
        operator.locator("[name='password']").fill(ADMIN[1])
        operator.locator("main").get_by_role("button", name="ログイン").click()
        operator.wait_for_load_state()
        assert "/console/login/" not in operator.url, dump(operator)
        operator.get_by_role("link", name="利用申込", exact=True).click()
        expect(operator.locator("h1")).to_have_text("利用申込")
        operator.locator(f"tr[data-reference='{reference}'] a").click()
        expect(operator.locator("h1")).to_contain_text(reference)
        approve = operator.locator("#action-approve")
        expect(approve.locator("h3")).to_have_text("承認")
        invitations_before = len(smtp.to(SIGNATORY_EMAIL))
        approve.get_by_role("button", name="承認").click()
        expect(operator.locator(".messages")).to_contain_text("承認しました", timeout=30_000)
        assert "/console/partners/" in operator.url, dump(operator)

        # ---------------------------------------------------------------- 3. invitation mail
        invitation = browser.wait_for_mail(smtp, SIGNATORY_EMAIL, after=invitations_before)
        # (The stdlib parser keeps the folding space of Django's encoded Subject: strip it.)
        assert invitation.subject.strip() == "電子契約サービスのご利用について", invitation.subject
        login_id = browser.labelled_value(invitation.body, "ログインID")
        links = re.findall(r"https?://\S+", invitation.body)
        welcome = next((u for u in links if "/welcome/" in u), None)
        assert welcome and welcome.startswith(base), invitation.body
        slug = re.search(r"/p/([^/]+)/welcome/", welcome).group(1)
        assert browser.wait_for_mail(smtp, USER_EMAIL, after=0)  # the other person is invited too

        # ---------------------------------------------------------------- 4. set the password
        applicant.goto(welcome)
        expect(applicant.locator("h1")).to_have_text("パスワードの設定")
        expect(applicant.locator("[data-login-id]")).to_have_text(login_id)
        applicant.locator("[name='new_password1']").fill(PASSWORD)
        applicant.locator("[name='new_password2']").fill(PASSWORD)
        applicant.get_by_role("button", name="パスワードを設定").click()
        expect(applicant.locator(".messages")).to_contain_text("パスワードを設定しました")
        assert applicant.url.endswith(f"/p/{slug}/login/"), dump(applicant)

        # ---------------------------------------------------------------- 5. login with the OTP
        expect(applicant.locator("h1")).to_have_text("ログイン")
        otps_before = len(smtp.to(SIGNATORY_EMAIL))
        applicant.locator("[name='login_id']").fill(login_id)
        applicant.locator("[name='password']").fill(PASSWORD)
        applicant.get_by_role("button", name="次へ").click()
        expect(applicant.locator("h1")).to_have_text("ワンタイムパスワード")
        otp_mail = browser.wait_for_mail(smtp, SIGNATORY_EMAIL, after=otps_before)
        code = re.search(r"^\s+(\d{6})\s*$", otp_mail.body, re.MULTILINE)
        assert code, otp_mail.body
        applicant.locator("[name='code']").fill(code.group(1))
        applicant.locator("main").get_by_role("button", name="ログイン").click()
        applicant.wait_for_url(f"{base}/p/{slug}/")
        expect(applicant.locator("[data-company]")).to_have_text(company["name_ja"])
        expect(applicant.locator("[data-role]")).to_have_attribute("data-role", "signatory")
        expect(applicant.locator("#certificate-heading")).to_have_text("署名用電子証明書")

        # ---------------------------------------------------------------- 6. certificate + PIN
        applicant.locator(f"#signatory-certificate a[href$='/p/{slug}/certificate/']").click()
        expect(applicant.locator("h1")).to_have_text("署名用電子証明書")
        applicant.locator("[name='pin']").fill(PIN)
        applicant.locator("[name='pin_confirm']").fill(PIN)
        applicant.locator("[name='acknowledge']").check()
        request_button = applicant.locator("[data-request-certificate]")
        expect(request_button).to_have_text("暗証コードを設定して証明書を取得")
        request_button.click()
        serial_cell = applicant.locator("code[data-serial]")
        expect(serial_cell).to_be_visible(timeout=60_000)
        expect(applicant.locator(".messages")).to_contain_text("署名用電子証明書を発行しました")
        serial = serial_cell.inner_text().strip()
        applicant.screenshot(path=str(tmp_path / "certificate.png"), full_page=True)
        assert re.fullmatch(r"[0-9a-f]{16,40}", serial), dump(applicant)
        assert (
            applicant.locator("[data-credential-status]").get_attribute("data-credential-status")
            == "active"
        ), dump(applicant)

        # The certificate as issued (from the server's database) names the person and company.
        rows = server.sql(
            "SELECT certificate_der FROM ca_issuedcertificate WHERE serial_hex = ?", (serial,)
        )
        assert len(rows) == 1, (serial, rows)
        cert = x509.load_der_x509_certificate(bytes(rows[0][0]))
        assert format(cert.serial_number, "x") == serial.lstrip("0")
        subject = cert.subject.rfc4514_string()
        assert "署名 一郎" in subject and company["name_ja"] in subject, subject
        issuing = _ca_issuer_pem(cert)
        root = _ca_issuer_pem(issuing)
        assert root.subject == root.issuer
        files = {
            "cert": _write_pem(tmp_path / "signatory.pem", cert),
            "issuing": _write_pem(tmp_path / "issuing.pem", issuing),
            "chain": _write_pem(tmp_path / "chain.pem", issuing, root),
        }
        ocsp_url = _ocsp_url(cert)
        assert ocsp_url == f"{base}/ocsp", ocsp_url

        out = _openssl_ocsp(files, ocsp_url)
        assert "Response verify OK" in out, out
        assert f"{files['cert']}: good" in out, out

        # ---------------------------------------------------------------- 7. operator revokes
        operator.goto(f"{base}/console/credentials/")
        row = operator.locator("tr[data-credential]", has_text=serial)
        expect(row).to_have_count(1)
        row.locator("a").click()
        expect(operator.locator("h1")).to_have_text("署名用電子証明書")
        expect(operator.locator("main code", has_text=serial)).to_have_count(1)
        # The leak was reported by phone: key compromise since a minute ago (Tokyo time).
        since = (dt.datetime.now(TOKYO) - dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
        operator.locator("[name='reason']").select_option("keyCompromise")
        operator.locator("[name='invalidity_date']").fill(since.strftime("%Y-%m-%dT%H:%M"))
        operator.locator("[name='note']").fill("電話で漏えいの届出あり")
        revocations_before = len(smtp.to(SIGNATORY_EMAIL))
        revoke_button = operator.locator("main form button[type='submit']")
        expect(revoke_button).to_have_text("証明書を失効させ鍵を破棄する")
        revoke_button.click()
        expect(operator.locator(".messages")).to_contain_text("証明書を失効させました")
        expect(operator.locator("[data-status]")).to_have_text("失効")
        expect(operator.locator("main button[type='submit']")).to_have_count(0)

        status = server.sql(
            "SELECT status, revocation_reason, invalidity_date FROM ca_issuedcertificate "
            "WHERE serial_hex = ?",
            (serial,),
        )
        assert status[0][0] == "revoked", status
        # The signatory is told (the mail names the certificate and the reason).
        browser.wait_for_mail(
            smtp,
            SIGNATORY_EMAIL,
            after=revocations_before,
            match=lambda m: serial in m.body and "keyCompromise" in m.body,
        )

        # ---------------------------------------------------------------- 8. OCSP says revoked
        out = _openssl_ocsp(files, ocsp_url)
        assert "Response verify OK" in out, out
        assert f"{files['cert']}: revoked" in out, out
        assert "Reason: keyCompromise" in out, out
        utc = since.astimezone(dt.UTC)
        assert "Invalidity Date" in out, out
        assert utc.strftime("%H:%M:00 %Y GMT") in out, (utc, out)

        # The signatory's page no longer offers signing with it: a new request is possible.
        applicant.reload()
        expect(applicant.locator("[data-request-certificate]")).to_have_count(1)
