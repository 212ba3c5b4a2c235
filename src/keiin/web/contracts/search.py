"""Contract search by the keys Japan's Electronic Books Preservation Act asks for.

取引年月日 (contract date, a range), 取引金額 (amount, a range) and 取引先 (counterparty, by
name), combinable with each other and with the title/reference and the status.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from keiin.web.contracts.models import Contract


def search(contracts: QuerySet[Contract], criteria: dict[str, Any]) -> QuerySet[Contract]:
    """``contracts`` narrowed by ``criteria`` (a cleaned :class:`SearchForm`; empty = all)."""
    q = (criteria.get("q") or "").strip()
    if q:
        contracts = contracts.filter(Q(title__icontains=q) | Q(reference__icontains=q))
    counterparty = (criteria.get("counterparty") or "").strip()
    if counterparty:
        contracts = contracts.filter(
            Q(partner__name_ja__icontains=counterparty)
            | Q(partner__name_en__icontains=counterparty)
        )
    if criteria.get("date_from"):
        contracts = contracts.filter(contract_date__gte=criteria["date_from"])
    if criteria.get("date_to"):
        contracts = contracts.filter(contract_date__lte=criteria["date_to"])
    if criteria.get("amount_min") is not None:
        contracts = contracts.filter(amount__gte=criteria["amount_min"])
    if criteria.get("amount_max") is not None:
        contracts = contracts.filter(amount__lte=criteria["amount_max"])
    if criteria.get("status"):
        contracts = contracts.filter(status=criteria["status"])
    return contracts.select_related("partner").order_by("-contract_date", "-id")
