"""Contract years, renewal, notice, suspension and usage/overage (seed 004 arts. 6, 11, 15)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from keiin.web.timestamping import services, terms
from keiin.web.timestamping.models import IssuedToken, TsaAccount
from keiin.web.timestamping.serials import token_serials

pytestmark = pytest.mark.django_db

D = dt.date


def _account(start: D, quota: int | None = 10, user: str = "acme") -> TsaAccount:
    return services.create_account(user, "a-long-password", actor="test", quota=quota, start=start)


def _tokens(account: TsaAccount | None, day: D, n: int) -> None:
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(12)))
    pairs = [token_serials().next() for _ in range(n)]
    IssuedToken.objects.bulk_create(
        IssuedToken(
            id=sequence,
            serial_hex=f"{serial:x}",
            gen_time=moment,
            hash_algorithm="sha256",
            digest_hex="00" * 32,
            policy="1.2.3",
            account=account,
            token_sha256="00" * 32,
        )
        for sequence, serial in pairs
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (D(2026, 11, 22), D(2027, 10, 31)),  # 12th month including November 2026
        (D(2026, 1, 1), D(2026, 12, 31)),
        (D(2027, 3, 31), D(2028, 2, 29)),  # leap year month end
    ],
)
def test_contract_year_ends_at_the_end_of_the_twelfth_month(start, end):
    assert terms.year_end(start) == end


def test_renewal_without_notice_and_with_timely_or_late_notice():
    account = _account(D(2026, 4, 10))
    assert account.term_end == D(2027, 3, 31)
    assert terms.renew_if_due(account, D(2027, 4, 1))
    assert account.term_end == D(2028, 3, 31)

    timely = _account(D(2026, 4, 10), user="timely")
    services.give_non_renewal_notice("timely", actor="t", on=D(2027, 3, 1))  # 30 days before
    timely.refresh_from_db()
    assert not terms.renew_if_due(timely, D(2027, 4, 1))
    assert terms.in_service(timely, D(2027, 4, 1)) == (False, "contract expired")

    late = _account(D(2026, 4, 10), user="late")
    ends = services.give_non_renewal_notice("late", actor="t", on=D(2027, 3, 15))
    assert ends == D(2028, 3, 31)  # late notice: one more year
    late.refresh_from_db()
    assert terms.renew_if_due(late, D(2027, 4, 1))
    assert late.term_end == D(2028, 3, 31)
    assert not terms.renew_if_due(late, D(2028, 4, 1))


def test_suspension_and_termination():
    _account(D(2026, 1, 1))
    services.set_status("acme", "suspended", actor="t", reason="unpaid")
    account = TsaAccount.objects.get(user_id="acme")
    assert terms.in_service(account, D(2026, 6, 1)) == (False, "account suspended")
    services.set_status("acme", "active", actor="t")
    account.refresh_from_db()
    assert terms.in_service(account, D(2026, 6, 1)) == (True, "")
    services.set_status("acme", "terminated", actor="t")
    with pytest.raises(services.TsaServiceError):
        services.set_status("acme", "active", actor="t")


def test_overage_is_counted_over_the_contract_year_and_billed_by_month():
    account = _account(D(2026, 4, 10), quota=10)
    _tokens(account, D(2026, 4, 20), 4)
    _tokens(account, D(2026, 5, 2), 5)
    _tokens(account, D(2026, 6, 30), 7)  # crosses the quota: 16 > 10
    _tokens(account, D(2026, 7, 1), 2)
    _tokens(None, D(2026, 6, 5), 3)  # anonymous tokens belong to nobody's quota
    april, may, june, july = (terms.month_usage(account, 2026, m) for m in (4, 5, 6, 7))
    assert (april.tokens, april.overage) == (4, 0)
    assert (may.tokens, may.year_to_date, may.overage) == (5, 9, 0)
    assert (june.tokens, june.year_to_date, june.overage) == (7, 16, 6)
    assert (july.tokens, july.overage) == (2, 2)
    # The next contract year starts from zero.
    _tokens(account, D(2027, 4, 3), 3)
    assert terms.month_usage(account, 2027, 4).overage == 0
    # The report's totals are the log's totals.
    per_account = terms.tokens_per_account(2026, 6)
    assert per_account == {account.pk: 7, None: 3}
    assert terms.anonymous_tokens(2026, 6) == 3


def test_unlimited_account_never_has_overage():
    account = _account(D(2026, 1, 1), quota=None)
    _tokens(account, D(2026, 2, 1), 50)
    assert terms.month_usage(account, 2026, 2).overage == 0


def test_account_validation():
    with pytest.raises(services.TsaServiceError):
        services.create_account("a:b", "a-long-password", actor="t")
    with pytest.raises(services.TsaServiceError):
        services.create_account("short", "short", actor="t")
    with pytest.raises(services.TsaServiceError):
        services.create_account("New", "a-long-password", actor="t")
    with pytest.raises(services.TsaServiceError):
        services.create_account("ipbad", "a-long-password", actor="t", ip_allowlist="not-an-ip")
    _account(D(2026, 1, 1))
    with pytest.raises(services.TsaServiceError):
        _account(D(2026, 1, 1))
