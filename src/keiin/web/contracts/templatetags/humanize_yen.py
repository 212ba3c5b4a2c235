"""``{{ amount|yen }}``: ¥1,234,567 (or a dash when there is no amount)."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def yen(value: Decimal | int | None) -> str:
    """Yen with thousands separators; "—" for no amount."""
    if value is None or value == "":
        return "—"
    return f"¥{int(value):,}"
