"""A little demo data for ``keiin demo``: idempotent, safe to run on every start."""

from __future__ import annotations

from keiin.web.accounts.models import Role, User
from keiin.web.audit.log import record

DEMO_PARTNER_SLUG = "demo"
DEMO_PARTNER_PASSWORD = "keiin-demo-partner"  # noqa: S105 - public demo login
DEMO_SEAL_PIN = "402817"  # the demo organisation seal's PIN (public, demo only)
DEMO_CONTRACT_BODY = """第1条（目的）
本契約は、甲が乙に委託する業務の内容及び条件を定める。

第2条（委託料）
甲は乙に対し、本契約に定める委託料を、業務完了の翌月末日までに支払う。

第3条（秘密保持）
甲及び乙は、本契約に関して知り得た相手方の秘密を、第三者に開示してはならない。"""


def _demo_partner(actor: str) -> list[User]:
    """A registered partner with a signatory and a user, through the real application flow."""
    from keiin.web.partners import services
    from keiin.web.partners.models import Partner

    partner = Partner.objects.filter(login_slug=DEMO_PARTNER_SLUG).first()
    if partner is None:
        application, _report = services.submit_application(
            {
                "name_ja": "デモ取引先株式会社",
                "name_en": "Demo Partner K.K.",
                "address": "東京都千代田区丸の内1-1-1",
                "representative_name": "取引 太郎",
                "representative_title": "代表取締役",
                "contact_name": "総務 花子",
                "contact_email": "soumu@partner.demo.keiin.test",
                "contact_phone": "03-0000-0000",
            },
            [
                {
                    "name": "署名 一郎",
                    "email": "ichiro@partner.demo.keiin.test",
                    "role": Role.SIGNATORY,
                },
                {
                    "name": "閲覧 次郎",
                    "email": "jiro@partner.demo.keiin.test",
                    "role": Role.PARTNER_USER,
                },
            ],
            language="ja",
            client_address="127.0.0.1",
        )
        approval = services.approve_application(
            application, actor=actor, login_slug=DEMO_PARTNER_SLUG
        )
        for user in approval.users:  # a known password, so the demo needs no invitation step
            user.set_password(DEMO_PARTNER_PASSWORD)
            user.save(update_fields=["password"])
        record("demo.data.created", actor=actor, target=f"partner:{DEMO_PARTNER_SLUG}")
        partner = approval.partner
    return list(User.objects.filter(partner=partner).order_by("id"))


def create_demo_data(*, actor: str) -> list[str]:
    """Create demo people (once) and return lines describing the demo logins."""
    if not User.objects.filter(login_id="manager").exists():
        User.objects.create_user(
            login_id="manager",
            email="manager@demo.keiin.test",
            password="keiin-demo-manager",  # noqa: S106 - public demo login
            display_name="契約 担当",
            role=Role.CONTRACT_MANAGER,
        )
        record("demo.data.created", actor=actor, target="manager")
    lines = ["                    manager / keiin-demo-manager"]
    people = _demo_partner(actor)
    lines.extend(_demo_contract(actor, people))
    lines.append(
        f"   partner login       /p/{DEMO_PARTNER_SLUG}/login/  (one-time passwords: /outbox/)"
    )
    for user in people:
        lines.append(
            f"                       {user.login_id} / {DEMO_PARTNER_PASSWORD}  ({user.role})"
        )
    return lines


def _demo_contract(actor: str, people: list[User]) -> list[str]:
    """The organisation seal (known PIN) and one draft contract for the demo signatory,
    made once; sealing it in the console starts the signing flow."""
    import datetime as dt

    from django.utils import timezone

    from keiin.web.contracts import services as contracts
    from keiin.web.contracts.generate import create_from_template
    from keiin.web.contracts.models import Contract
    from keiin.web.credentials import services as credentials

    manager = User.objects.get(login_id="manager")
    if credentials.live_seal() is None:
        credentials.request_seal(
            manager, DEMO_SEAL_PIN, credentials.Receipt(ip="127.0.0.1", user_agent="keiin demo")
        )
    signatories = [u for u in people if u.role == Role.SIGNATORY]
    if signatories and not Contract.objects.exists():
        today = timezone.localdate()
        create_from_template(
            contracts.ContractTerms(
                title="業務委託契約書（デモ）",
                partner=signatories[0].partner,
                signatories=signatories[:1],
                contract_date=today,
                amount=1_100_000,
                starts_on=today,
                ends_on=today + dt.timedelta(days=364),
            ),
            DEMO_CONTRACT_BODY,
            creator=manager,
        )
        record("demo.data.created", actor=actor, target="contract")
    return [
        f"   organisation seal   PIN {DEMO_SEAL_PIN}  (console → Contracts: seal the demo draft)"
    ]
