"""Signals other apps connect to; the certificate lifecycle revokes on them.

Every signal is sent *after* the change is committed, with ``sender`` = the ``User`` class
(or ``Partner``) and these keyword arguments:

``user_removed``
    ``user`` (now inactive), ``actor`` (who did it), ``reason`` (free text). A person left the
    partner: revoke their certificate (RFC 5280 ``affiliationChanged``) and destroy the key.
``signatory_identity_changed``
    ``user``, ``actor``, ``changes``: ``{field: [old, new]}`` with fields among ``display_name``,
    ``email``, ``role``, ``partner_name``. What a signatory certificate names changed (or the
    person is no longer a signatory): revoke (``superseded``) and ask for a new certificate.
``partner_status_changed``
    ``partner``, ``actor``, ``old``, ``new`` (status values), ``reason``. A restricted or refused
    partner may not sign; its data is kept.
"""

from __future__ import annotations

from django.dispatch import Signal

user_removed = Signal()
signatory_identity_changed = Signal()
partner_status_changed = Signal()
