"""Steps shared by the partner tests (``tests/web/test_partners_*.py``).

A test module lists ``pytest_plugins = ["tests.support.smtp"]`` for the ``smtp_server``
fixture and imports these helpers. Every step goes through the public pages and real SMTP,
as a person would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.test import Client

from keiin.web.accounts.models import Role, User
from keiin.web.partners import services
from keiin.web.partners.models import Application, Partner

if TYPE_CHECKING:  # the plugin module is imported by pytest itself (assertion rewriting)
    from tests.support.smtp import SmtpServer

STAFF_PASSWORD = "correct horse battery staple"
PASSWORD = "Sakura-no-hana-2026"

COMPANY = {
    "name_ja": "取引先株式会社",
    "name_en": "Torihikisaki K.K.",
    "address": "東京都千代田区丸の内1-1-1",
    "representative_name": "代表 太郎",
    "representative_title": "代表取締役",
    "contact_name": "総務 花子",
    "contact_email": "soumu@torihikisaki.example.jp",
    "contact_phone": "03-0000-0000",
}


def application_post(
    people: list[tuple[str, str, str]] | None = None, *, accept: bool = True, **company: str
) -> dict[str, str]:
    """The POST data of the application form."""
    people = (
        people
        if people is not None
        else [
            ("署名 一郎", "ichiro@torihikisaki.example.jp", Role.SIGNATORY),
            ("閲覧 次郎", "jiro@torihikisaki.example.jp", Role.PARTNER_USER),
        ]
    )
    data = {**COMPANY, **company}
    if accept:
        data["accept_terms"] = "on"
    data["people-TOTAL_FORMS"] = str(max(len(people), 3))
    data["people-INITIAL_FORMS"] = "0"
    data["people-MIN_NUM_FORMS"] = "0"
    data["people-MAX_NUM_FORMS"] = "30"
    for index, (name, email, role) in enumerate(people):
        data[f"people-{index}-name"] = name
        data[f"people-{index}-email"] = email
        data[f"people-{index}-role"] = role
    return data


def make_application(
    name_en: str = "Torihikisaki K.K.",
    people: list[tuple[str, str, str]] | None = None,
    **company: str,
) -> Application:
    """An application stored through the service (as the public form would)."""
    people = people or [("署名 一郎", "ichiro@torihikisaki.example.jp", Role.SIGNATORY)]
    application, _report = services.submit_application(
        {**COMPANY, "name_en": name_en, **company},
        [{"name": n, "email": e, "role": r} for n, e, r in people],
        language="ja",
        client_address="192.0.2.10",
    )
    return application


@dataclass
class Registered:
    partner: Partner
    users: list[User]

    @property
    def slug(self) -> str:
        return self.partner.login_slug

    @property
    def user(self) -> User:
        return self.users[0]


def register(
    smtp: SmtpServer,
    *,
    name_en: str = "Torihikisaki K.K.",
    email: str = "ichiro@torihikisaki.example.jp",
    role: str = Role.SIGNATORY,
    password: str | None = PASSWORD,
) -> Registered:
    """A registered partner with one person who has set ``password`` via the invitation."""
    application = make_application(
        name_en, [("署名 一郎", email, role)], contact_email=f"contact-{email}"
    )
    approval = services.approve_application(application, actor="test")
    registered = Registered(approval.partner, approval.users)
    if password:
        set_password_from_invitation(Client(), smtp, email, password)
        registered.users = [User.objects.get(pk=u.pk) for u in approval.users]
    return registered


def set_password_from_invitation(client: Client, smtp: SmtpServer, email: str, password: str):
    """Follow the invitation link from the mail and set ``password``."""
    link = smtp.link_to(email, "/welcome/")
    response = client.get(link)
    assert response.status_code == 302, response.status_code  # token moved into the session
    form_url = response["Location"]
    response = client.post(form_url, {"new_password1": password, "new_password2": password})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response


def password_step(client: Client, slug: str, login_id: str, password: str, prefix: str = ""):
    return client.post(f"{prefix}/p/{slug}/login/", {"login_id": login_id, "password": password})


def code_step(client: Client, slug: str, code: str, prefix: str = ""):
    return client.post(f"{prefix}/p/{slug}/login/code/", {"code": code})


def log_in(client: Client, smtp: SmtpServer, registered: Registered, password: str = PASSWORD):
    """Both steps with the code from the mail; returns the OTP step's response."""
    user = registered.user
    response = password_step(client, registered.slug, user.login_id, password)
    assert response.status_code == 302, response.content.decode()[:3000]
    return code_step(client, registered.slug, smtp.otp_for(user.email))


def logged_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def make_staff() -> User:
    return User.objects.create_user(
        "manager", "manager@operator.example.jp", STAFF_PASSWORD, role=Role.CONTRACT_MANAGER
    )


def client_for(user: User, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client
