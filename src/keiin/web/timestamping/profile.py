"""Build a :class:`~keiin.tsa.template.TokenFactory` from the database and settings."""

from __future__ import annotations

from django.db import close_old_connections

from keiin.tsa.template import TokenFactory, TsaProfile
from keiin.web.ca import services
from keiin.web.ca.models import CertificateAuthority, IssuedCertificate
from keiin.web.timestamping.config import tsa_settings


def factory_for(row: IssuedCertificate) -> TokenFactory:
    """The token factory for TSA certificate ``row`` (uses the caller's connection)."""
    certificate = services.certificate_of(row.certificate_der)
    issuer = CertificateAuthority.objects.get(pk=row.issuer_id)
    cfg = tsa_settings()
    seconds, millis = divmod(cfg.accuracy_ms, 1000)
    profile = TsaProfile(
        certificate=certificate,
        key=services.private_key(row.key_ref),
        chain=(services.certificate_of(issuer.certificate_der),),
        policies=cfg.policies,
        accuracy_seconds=seconds,
        accuracy_millis=millis,
        include_chain=cfg.include_chain,
    )
    return TokenFactory(profile)


def load_factory() -> TokenFactory | None:
    """For a worker thread: the factory of the current TSA certificate, or None if none.

    Opens and closes its own connection (it runs in asgiref's executor, outside any request).
    """
    close_old_connections()
    try:
        row = services.current_tsa_certificate()
        return factory_for(row) if row is not None else None
    finally:
        close_old_connections()
