"""Contract years, renewal and usage (seed 004 articles 6 and 15).

* A contract year runs from the month of the start date to the end of the 12th month
  (article 15: billing "from the start month to the end of the 12th month including it").
* It renews for another year unless notice of non-renewal was given at least 30 days before
  the year ends; notice given later takes effect at the end of the following year.
* The yearly quota is counted over the contract year; tokens beyond it are still issued and
  billed as overage the month after (article 6.2).
Billing months follow the operator's time zone (``TIME_ZONE``, Asia/Tokyo by default).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone

from keiin.web.timestamping.models import IssuedToken, TsaAccount

NOTICE_DAYS = 30


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def year_end(start: dt.date) -> dt.date:
    """Last day of the contract year that starts on ``start``."""
    return _month_end(*_add_months(start.year, start.month, 11))


def contract_years(account: TsaAccount) -> list[tuple[dt.date, dt.date]]:
    """Every contract year so far (first to current)."""
    years = []
    start = account.contract_start
    while True:
        end = year_end(start)
        years.append((start, end))
        if end >= account.term_end:
            return years
        start = end + dt.timedelta(days=1)


def year_containing(account: TsaAccount, day: dt.date) -> tuple[dt.date, dt.date]:
    """The contract year (start, end) that contains ``day`` (extrapolated past term_end)."""
    start = account.contract_start
    if day < start:
        return start, year_end(start)
    while True:
        end = year_end(start)
        if day <= end:
            return start, end
        start = end + dt.timedelta(days=1)


def notice_is_timely(notice_on: dt.date, term_end: dt.date) -> bool:
    """Whether a non-renewal notice given on ``notice_on`` stops renewal at ``term_end``."""
    return notice_on <= term_end - dt.timedelta(days=NOTICE_DAYS)


def renew_if_due(account: TsaAccount, today: dt.date) -> bool:
    """Extend ``term_end`` year by year while it has passed and renewal applies; saves."""
    changed = False
    while today > account.term_end and account.auto_renew:
        notice = account.non_renewal_notice_on
        if notice is not None and notice_is_timely(notice, account.term_end):
            break
        account.term_end = year_end(account.term_end + dt.timedelta(days=1))
        changed = True
    if changed:
        account.save(update_fields=["term_end"])
    return changed


def in_service(account: TsaAccount, today: dt.date) -> tuple[bool, str]:
    """Whether the account may obtain tokens today, and why not."""
    if account.status == TsaAccount.Status.SUSPENDED:
        return False, "account suspended"
    if account.status == TsaAccount.Status.TERMINATED:
        return False, "account terminated"
    if today < account.contract_start:
        return False, "contract not started"
    if today > account.term_end:
        return False, "contract expired"
    return True, ""


def _month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    """The first day of a month and the first day of the next."""
    return dt.date(year, month, 1), _month_end(year, month) + dt.timedelta(days=1)


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def _count(account: TsaAccount, start: dt.date, end_exclusive: dt.date) -> int:
    if end_exclusive <= start:
        return 0
    return IssuedToken.objects.filter(
        account=account,
        gen_time__gte=_local_midnight(start),
        gen_time__lt=_local_midnight(end_exclusive),
    ).count()


@dataclass(frozen=True)
class MonthUsage:
    """One account's tokens in one billing month."""

    user_id: str
    month: str  # YYYY-MM
    tokens: int
    year_to_date: int  # in the contract year, up to and including this month
    quota: int | None
    overage: int  # tokens this month beyond the yearly quota (billed next month)


def month_usage(account: TsaAccount, year: int, month: int) -> MonthUsage:
    """Usage and overage of ``account`` in one calendar month (local time)."""
    first, after = _month_bounds(year, month)
    year_start, _ = year_containing(account, first)
    before = _count(account, year_start, first)
    tokens = _count(account, first, after)
    quota = account.yearly_quota
    overage = 0
    if quota is not None:
        overage = max(0, before + tokens - quota) - max(0, before - quota)
    return MonthUsage(
        account.user_id, f"{year:04d}-{month:02d}", tokens, before + tokens, quota, overage
    )


def anonymous_tokens(year: int, month: int) -> int:
    """Tokens issued without an account (anonymous access) in one month."""
    first, after = _month_bounds(year, month)
    return IssuedToken.objects.filter(
        account__isnull=True,
        gen_time__gte=_local_midnight(first),
        gen_time__lt=_local_midnight(after),
    ).count()


def tokens_per_account(year: int, month: int) -> dict[int | None, int]:
    """Raw counts from the issuance log for one month, by account id (None: anonymous)."""
    first, after = _month_bounds(year, month)
    rows = (
        IssuedToken.objects.filter(
            gen_time__gte=_local_midnight(first), gen_time__lt=_local_midnight(after)
        )
        .values("account_id")
        .annotate(n=Count("id"))
    )
    return {r["account_id"]: r["n"] for r in rows}
