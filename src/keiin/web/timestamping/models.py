"""TSA customers, their plans and API tokens, the issuance log and token revocations."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.utils.translation import gettext_lazy as _


class TsaPlan(models.Model):
    """A yearly plan: how many tokens a contract year includes."""

    name = models.SlugField(unique=True)
    description = models.CharField(max_length=200, blank=True)
    yearly_quota = models.PositiveBigIntegerField()

    def __str__(self) -> str:
        return self.name


class TsaAccount(models.Model):
    """An outside customer of the time-stamping service (seed 004)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        TERMINATED = "terminated", _("Terminated")

    user_id = models.CharField(_("user ID"), max_length=64, unique=True)
    password = models.CharField(max_length=256)
    organization = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    plan = models.ForeignKey(TsaPlan, null=True, blank=True, on_delete=models.PROTECT)
    #: Overrides the plan's yearly quota when set.
    quota = models.PositiveBigIntegerField(null=True, blank=True)
    #: The day the service was first provided; contract years count from its month.
    contract_start = models.DateField()
    #: Last day of the current contract year (moved forward by each automatic renewal).
    term_end = models.DateField()
    auto_renew = models.BooleanField(default=True)
    #: When the customer (or operator) gave notice of non-renewal.
    non_renewal_notice_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=300, blank=True)
    #: Newline-separated CIDR networks allowed to call the TSA; empty = anywhere.
    ip_allowlist = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id"]

    def __str__(self) -> str:
        return self.user_id

    def set_password(self, raw: str) -> None:
        """Store an Argon2 hash of ``raw``."""
        self.password = make_password(raw)

    def check_password(self, raw: str) -> bool:
        """Whether ``raw`` is the account's password (constant-time, Argon2)."""
        return check_password(raw, self.password)

    @property
    def yearly_quota(self) -> int | None:
        """Tokens included per contract year (None: unlimited)."""
        if self.quota is not None:
            return self.quota
        return self.plan.yearly_quota if self.plan else None


class TsaApiToken(models.Model):
    """A bearer token for an account; only its SHA-256 is stored (tokens are 256-bit random)."""

    account = models.ForeignKey(TsaAccount, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.account.user_id}/{self.name} ({self.prefix}…)"


class IssuedToken(models.Model):
    """The issuance log: one row per granted token, committed before the reply leaves.

    The key is the token's sequence number and its serial is a keyed permutation of it
    (:mod:`keiin.tsa.serials`): serials are unique because keys are, and rows are appended in
    key order instead of landing on random index pages. Find a row by serial with
    :func:`keiin.web.timestamping.serials.find_token`, not by filtering ``serial_hex`` (which
    has no index).
    """

    id = models.BigIntegerField(primary_key=True)
    serial_hex = models.CharField(max_length=40)
    gen_time = models.DateTimeField()
    hash_algorithm = models.CharField(max_length=10)
    digest_hex = models.CharField(max_length=128)
    policy = models.CharField(max_length=100)
    account = models.ForeignKey(
        TsaAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tokens",
        db_index=False,  # the (account, gen_time) index serves lookups by account
    )
    token_sha256 = models.CharField(max_length=64)

    class Meta:
        indexes = [
            models.Index(fields=["account", "gen_time"]),
            models.Index(fields=["gen_time"]),
        ]

    def __str__(self) -> str:
        return f"token {self.serial_hex} at {self.gen_time:%Y-%m-%d %H:%M:%S}"


class TsaSerialBlock(models.Model):
    """A reserved block of token sequence numbers (:mod:`keiin.tsa.serials`).

    Each TSA process reserves a block by inserting a row; the row's id is the block number,
    never handed out twice. Blocks abandoned by a restart are simply never used again.
    """

    reserved_at = models.DateTimeField(auto_now_add=True)
    pid = models.IntegerField()

    def __str__(self) -> str:
        return f"serial block {self.pk} (pid {self.pid})"


class TokenRevocation(models.Model):
    """A revoked token (by serial) or a revoked time window (e.g. a clock incident)."""

    serial_hex = models.CharField(max_length=40, blank=True, db_index=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    revoked_at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=200)

    class Meta:
        ordering = ["revoked_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(serial_hex__gt="", window_start__isnull=True, window_end__isnull=True)
                    | models.Q(serial_hex="", window_start__isnull=False, window_end__isnull=False)
                ),
                name="revocation_is_serial_or_window",
            )
        ]

    def covers(self, serial_hex: str, gen_time: dt.datetime) -> bool:
        """Whether this revocation applies to a token."""
        if self.serial_hex:
            return self.serial_hex == serial_hex
        assert self.window_start is not None and self.window_end is not None
        return self.window_start <= gen_time < self.window_end

    def __str__(self) -> str:
        if self.serial_hex:
            return f"token {self.serial_hex}"
        return f"tokens from {self.window_start} to {self.window_end}"


class RevocationListSnapshot(models.Model):
    """One published, signed token revocation list (see ``revocation_list.py``).

    ``document`` is the exact canonical JSON that was time-stamped; ``response`` is the full
    RFC 3161 TimeStampResp over its SHA-256 (served as ``revocations.tsr``). Rows are never
    changed; the highest ``number`` is the current list, older ones stay for the record.
    """

    number = models.PositiveBigIntegerField(unique=True)
    published_at = models.DateTimeField()
    document = models.BinaryField()
    response = models.BinaryField()
    #: Serial of the list's own token (also in the issuance log).
    token_serial_hex = models.CharField(max_length=40)
    #: Serial of the TSA certificate that signed it.
    tsa_serial_hex = models.CharField(max_length=40)
    #: How many revocations the list holds, and the newest one it includes (0: none).
    entries = models.PositiveIntegerField()
    last_revocation_id = models.BigIntegerField(default=0)
    actor = models.CharField(max_length=200)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"token revocation list {self.number}"
