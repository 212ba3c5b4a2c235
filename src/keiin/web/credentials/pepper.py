"""The server pepper of this installation (file by default, PKCS#11 token when configured).

Settings (environment):

``KEIIN_CUSTODY_PEPPER_FILE``  the 32-byte pepper file (default ``HOME/secrets/custody.pepper``,
                               created 0600 on first use). Keep it off the database's backups.
``KEIIN_PKCS11_LIBRARY``       a PKCS#11 module (e.g. ``/usr/lib/softhsm/libsofthsm2.so``):
                               the pepper is then a non-extractable HMAC key in that token.
``KEIIN_PKCS11_TOKEN``         the token label (default ``keiin``)
``KEIIN_PKCS11_PIN_FILE``      a file holding the token's user PIN (or ``KEIIN_PKCS11_PIN``)
``KEIIN_PKCS11_KEY_LABEL``     the key's label (default: keiin.custody's)
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from django.conf import settings

from keiin.custody import FilePepper, Pepper

_lock = threading.Lock()
_pepper: Pepper | None = None


def _pkcs11_pin() -> str:
    path = os.environ.get("KEIIN_PKCS11_PIN_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get("KEIIN_PKCS11_PIN", "")


def configured_pepper() -> Pepper:
    """The pepper of this process (opened once)."""
    global _pepper
    with _lock:
        if _pepper is None:
            library = os.environ.get("KEIIN_PKCS11_LIBRARY")
            if library:
                from keiin.custody.pkcs11_pepper import DEFAULT_KEY_LABEL, Pkcs11Pepper

                _pepper = Pkcs11Pepper(
                    library_path=library,
                    token_label=os.environ.get("KEIIN_PKCS11_TOKEN", "keiin"),
                    user_pin=_pkcs11_pin(),
                    key_label=os.environ.get("KEIIN_PKCS11_KEY_LABEL", DEFAULT_KEY_LABEL),
                )
            else:
                path = os.environ.get("KEIIN_CUSTODY_PEPPER_FILE") or str(
                    settings.HOME.secrets / "custody.pepper"
                )
                _pepper = FilePepper.load_or_create(path)
        return _pepper


def reset_pepper() -> None:
    """Forget the opened pepper (tests; a changed configuration)."""
    global _pepper
    with _lock:
        _pepper = None
