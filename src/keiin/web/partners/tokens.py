"""Single-use, expiring links for setting a password (invitation) and resetting it.

Django's token generator signs the user's id, password hash, last login time and e-mail
address with the secret key: setting a password (or logging in) changes what it signs, so a
link works once. Ours also signs whether the account is active and its partner, and each kind
of link has its own salt and lifetime.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int


class ExpiringTokenGenerator(PasswordResetTokenGenerator):
    """A password-setting token generator with its own salt and lifetime setting."""

    lifetime_setting = "PASSWORD_RESET_TIMEOUT"

    def __init__(self, key_salt: str, lifetime_setting: str) -> None:
        super().__init__()
        self.key_salt = key_salt
        self.lifetime_setting = lifetime_setting

    @property
    def lifetime(self) -> int:
        """Seconds a link stays valid."""
        return int(getattr(settings, self.lifetime_setting))

    def _make_hash_value(self, user, timestamp: int) -> str:
        base = super()._make_hash_value(user, timestamp)
        return f"{base}|{int(user.is_active)}|{user.partner_id or ''}"

    def check_token(self, user, token: str | None) -> bool:
        """Like Django's, with this generator's lifetime instead of PASSWORD_RESET_TIMEOUT."""
        if not (user and token):
            return False
        try:
            ts_b36, _hash = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        for secret in [self.secret, *self.secret_fallbacks]:
            if constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token):
                break
        else:
            return False
        return 0 <= self._num_seconds(self._now()) - ts <= self.lifetime


invitation_tokens = ExpiringTokenGenerator("keiin.partners.invitation", "KEIIN_INVITATION_TTL")
reset_tokens = ExpiringTokenGenerator("keiin.partners.password-reset", "PASSWORD_RESET_TIMEOUT")
