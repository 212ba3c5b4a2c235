"""A little demo data for ``keiin demo``: idempotent, safe to run on every start."""

from __future__ import annotations

from keiin.web.accounts.models import Role, User
from keiin.web.audit.log import record


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
    return ["                    manager / keiin-demo-manager"]
