"""The pepper as a non-extractable HMAC key inside a PKCS#11 token (HSM, or SoftHSM2 for tests).

The key is a CKK_GENERIC_SECRET of 256 bits, generated inside the token by
:meth:`Pkcs11Pepper.create_key` with ``CKA_SENSITIVE=true``, ``CKA_EXTRACTABLE=false``,
``CKA_TOKEN=true``, ``CKA_PRIVATE=true`` and only the sign/verify capabilities. Every
HMAC-SHA256 (``CKM_SHA256_HMAC``) is computed inside the token: the pepper never exists in the
server's memory, so neither a database dump nor a memory dump of the server yields it. The token
must be backed up by its own means (an HSM's backup/cluster feature); a lost token means no
signer key can be opened again.

Sessions: one logged-in session per :class:`Pkcs11Pepper` object, opened on first use, guarded
by a lock, reopened after a ``fork()`` (granian workers) or when the token reports an error.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import NoSuchKey, PKCS11Error, UserAlreadyLoggedIn

from keiin.custody.errors import InsecurePepperError, PepperError, PepperUnavailableError

DEFAULT_KEY_LABEL = "keiin-custody-pepper"
PEPPER_BITS = 256

_libraries_lock = threading.Lock()
_libraries: dict[str, tuple[int, Any]] = {}


def _library(path: str) -> Any:
    """The loaded PKCS#11 library at ``path``, initialised once per process."""
    with _libraries_lock:
        pid = os.getpid()
        entry = _libraries.get(path)
        if entry is not None and entry[0] == pid:
            return entry[1]
        if entry is None:
            if not Path(path).exists():
                raise PepperUnavailableError(f"PKCS#11 library {path} does not exist")
            library = pkcs11.lib(path)
        else:  # inherited across fork(): the module must be initialised again in this process
            library = entry[1]
            library.reinitialize()
        _libraries[path] = (pid, library)
        return library


class Pkcs11Pepper:
    """A :class:`~keiin.custody.pepper.Pepper` whose secret is an HMAC key in a PKCS#11 token.

    ``library_path`` is the token's PKCS#11 module (``/usr/lib/softhsm/libsofthsm2.so`` for
    SoftHSM2), ``token_label`` its label, ``user_pin`` the token's user PIN (from the server's
    configuration, never from the database), ``key_label`` the pepper key's label.
    """

    def __init__(
        self,
        *,
        library_path: str,
        token_label: str,
        user_pin: str,
        key_label: str = DEFAULT_KEY_LABEL,
    ) -> None:
        """Describe where the key is; nothing is opened until the first :meth:`mac`."""
        self.library_path = library_path
        self.token_label = token_label
        self.key_label = key_label
        self._user_pin = user_pin
        self._lock = threading.Lock()
        self._pid = -1
        self._session: Any = None
        self._key: Any = None

    @classmethod
    def create_key(
        cls,
        *,
        library_path: str,
        token_label: str,
        user_pin: str,
        key_label: str = DEFAULT_KEY_LABEL,
    ) -> Pkcs11Pepper:
        """Generate the pepper key inside the token and return a pepper that uses it.

        Raises ``FileExistsError`` if the token already holds a secret key with ``key_label``
        (never replace a pepper: every credential wrapped with it would be lost), and
        :class:`~keiin.custody.errors.PepperUnavailableError` if the token cannot be used.
        """
        pepper = cls(
            library_path=library_path,
            token_label=token_label,
            user_pin=user_pin,
            key_label=key_label,
        )
        with pepper._lock:
            session = pepper._open_session(rw=True)
            try:
                existing = list(
                    session.get_objects(
                        {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: key_label}
                    )
                )
                if existing:
                    raise FileExistsError(
                        f"token {token_label!r} already holds a key labelled {key_label!r}"
                    )
                session.generate_key(
                    KeyType.GENERIC_SECRET,
                    PEPPER_BITS,
                    label=key_label,
                    store=True,
                    capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                    template={
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: True,
                        Attribute.SENSITIVE: True,
                        Attribute.EXTRACTABLE: False,
                        Attribute.MODIFIABLE: False,
                        Attribute.ENCRYPT: False,
                        Attribute.DECRYPT: False,
                        Attribute.WRAP: False,
                        Attribute.UNWRAP: False,
                        Attribute.DERIVE: False,
                    },
                )
            except PKCS11Error as exc:
                raise PepperUnavailableError(
                    f"cannot create the pepper key in token {token_label!r}: {exc!r}"
                ) from None
            finally:
                session.close()
        return pepper

    def mac(self, data: bytes) -> bytes:
        """HMAC-SHA256 of ``data``, computed inside the token.

        Raises :class:`~keiin.custody.errors.PepperUnavailableError` if the token, its login or
        the key cannot be used (after one retry on a fresh session), and
        :class:`~keiin.custody.errors.InsecurePepperError` if the key is extractable or not
        sensitive.
        """
        with self._lock:
            for attempt in range(2):
                try:
                    key = self._current_key()
                    return bytes(key.sign(bytes(data), mechanism=Mechanism.SHA256_HMAC))
                except PepperError:
                    self._drop_session()
                    raise
                except PKCS11Error as exc:
                    self._drop_session()
                    if attempt:
                        raise PepperUnavailableError(
                            f"PKCS#11 HMAC failed in token {self.token_label!r}: {exc!r}"
                        ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the session (logging out when it was the last one). Idempotent."""
        with self._lock:
            self._drop_session()

    def __repr__(self) -> str:
        return (
            f"Pkcs11Pepper(library_path={self.library_path!r}, "
            f"token_label={self.token_label!r}, key_label={self.key_label!r})"
        )

    def _current_key(self) -> Any:
        if self._key is not None and self._pid == os.getpid():
            return self._key
        self._session = None  # a session from before fork() is not ours to close
        session = self._open_session(rw=False)
        try:
            key = session.get_key(
                object_class=ObjectClass.SECRET_KEY,
                key_type=KeyType.GENERIC_SECRET,
                label=self.key_label,
            )
        except NoSuchKey:
            session.close()
            raise PepperUnavailableError(
                f"token {self.token_label!r} holds no pepper key labelled {self.key_label!r}"
            ) from None
        except BaseException:
            session.close()
            raise
        if key[Attribute.EXTRACTABLE] or not key[Attribute.SENSITIVE]:
            session.close()
            raise InsecurePepperError(
                f"pepper key {self.key_label!r} in token {self.token_label!r} is extractable or "
                "not sensitive; generate a new one with Pkcs11Pepper.create_key"
            )
        self._session, self._key, self._pid = session, key, os.getpid()
        return key

    def _open_session(self, *, rw: bool) -> Any:
        library = _library(self.library_path)
        try:
            token = library.get_token(token_label=self.token_label)
        except PKCS11Error as exc:
            raise PepperUnavailableError(
                f"PKCS#11 token {self.token_label!r} not found: {exc!r}"
            ) from None
        try:
            return token.open(rw=rw, user_pin=self._user_pin)
        except UserAlreadyLoggedIn:
            # Login state is per application: another session of this process is logged in.
            return token.open(rw=rw)
        except PKCS11Error as exc:
            raise PepperUnavailableError(
                f"cannot log in to PKCS#11 token {self.token_label!r}: {exc!r}"
            ) from None

    def _drop_session(self) -> None:
        session, self._session, self._key = self._session, None, None
        if session is not None and self._pid == os.getpid():
            try:
                session.close()
            except PKCS11Error:
                pass
