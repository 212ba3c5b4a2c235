"""The PKCS#11 pepper against a real SoftHSM2 token in a private temporary directory.

Skipped only when Debian's softhsm2 package (its PKCS#11 module) is not installed; ``./run``
installs it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import subprocess
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.exceptions import AttributeSensitive

from keiin.custody import (
    FilePepper,
    InsecurePepperError,
    PepperMismatchError,
    PepperUnavailableError,
    create_credential,
    unlock,
)
from keiin.custody.pkcs11_pepper import Pkcs11Pepper, _library
from tests.unit.custody.helpers import CREDENTIAL_ID, FAST_KDF, PIN, TENANT

SOFTHSM_LIBRARY = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN = "keiin-test"
SPARE_TOKEN = "keiin-test-spare"  # never logged in by another test (login state is per process)
USER_PIN = "1234"
SO_PIN = "5678"

pytestmark = pytest.mark.skipif(
    not Path(SOFTHSM_LIBRARY).exists(),
    reason=f"SoftHSM2 is not installed ({SOFTHSM_LIBRARY} missing; apt-get install softhsm2)",
)


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory):
    """Two fresh tokens in a temporary SoftHSM2 store; SOFTHSM2_CONF points there meanwhile."""
    util = shutil.which("softhsm2-util")
    assert util, "softhsm2 is installed but softhsm2-util is not on PATH"
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    env = os.environ | {"SOFTHSM2_CONF": str(conf)}
    for label in (TOKEN, SPARE_TOKEN):
        subprocess.run(
            [
                util,
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                USER_PIN,
                "--so-pin",
                SO_PIN,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        yield conf
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


def _pepper(label: str, token: str = TOKEN, pin: str = USER_PIN) -> Pkcs11Pepper:
    return Pkcs11Pepper(
        library_path=SOFTHSM_LIBRARY, token_label=token, user_pin=pin, key_label=label
    )


def _create(label: str) -> Pkcs11Pepper:
    return Pkcs11Pepper.create_key(
        library_path=SOFTHSM_LIBRARY, token_label=TOKEN, user_pin=USER_PIN, key_label=label
    )


def _import_secret(label: str, secret: bytes, *, extractable: bool = False) -> None:
    """Put a known HMAC secret into the token (only to check the token's HMAC against ours)."""
    token = _library(SOFTHSM_LIBRARY).get_token(token_label=TOKEN)
    with _session(token) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.KEY_TYPE: KeyType.GENERIC_SECRET,
                Attribute.VALUE: secret,
                Attribute.LABEL: label,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SIGN: True,
                Attribute.SENSITIVE: not extractable,
                Attribute.EXTRACTABLE: extractable,
            }
        )


def _session(token):
    try:
        return token.open(rw=True, user_pin=USER_PIN)
    except pkcs11.exceptions.UserAlreadyLoggedIn:
        return token.open(rw=True)


def test_generated_key_is_non_extractable_and_sensitive(softhsm):
    pepper = _create("pepper-attrs")
    assert len(pepper.mac(b"probe")) == 32
    token = _library(SOFTHSM_LIBRARY).get_token(token_label=TOKEN)
    with _session(token) as session:
        key = session.get_key(object_class=ObjectClass.SECRET_KEY, label="pepper-attrs")
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.TOKEN] is True
        assert key[Attribute.ENCRYPT] is False and key[Attribute.DERIVE] is False
        with pytest.raises(AttributeSensitive):
            key[Attribute.VALUE]
    pepper.close()


def test_mac_is_hmac_sha256_computed_in_the_token(softhsm):
    secret = bytes(range(100, 132))
    _import_secret("pepper-kat", secret)
    pepper = _pepper("pepper-kat")
    for data in (b"", b"abc", bytes(32), b"x" * 1000):
        expected = hmac.new(secret, data, hashlib.sha256).digest()
        assert pepper.mac(data) == expected == FilePepper(secret).mac(data)
    pepper.close()


def test_same_key_same_mac_across_objects_and_after_close(softhsm):
    first = _create("pepper-stable")
    value = first.mac(b"data")
    first.close()
    assert first.mac(b"data") == value  # reopens after close
    assert _pepper("pepper-stable").mac(b"data") == value
    assert first.mac(b"other") != value


def test_credential_round_trip_with_the_token_pepper(softhsm):
    pepper = _create("pepper-credential")
    record, _ = create_credential(
        PIN, pepper=pepper, tenant=TENANT, credential_id=CREDENTIAL_ID, kdf=FAST_KDF
    )
    again = _pepper("pepper-credential")  # e.g. after a restart
    with unlock(record, PIN, pepper=again, tenant=TENANT, credential_id=CREDENTIAL_ID) as key:
        assert key.public_key_der == record.public_key_der
    # Another pepper (a file, or another token key) cannot open it.
    with pytest.raises(PepperMismatchError):
        unlock(
            record,
            PIN,
            pepper=FilePepper(os.urandom(32)),
            tenant=TENANT,
            credential_id=CREDENTIAL_ID,
        )
    with pytest.raises(PepperMismatchError):
        unlock(
            record,
            PIN,
            pepper=_create("pepper-credential-2"),
            tenant=TENANT,
            credential_id=CREDENTIAL_ID,
        )


def test_create_key_never_replaces_an_existing_key(softhsm):
    original = _create("pepper-once")
    value = original.mac(b"x")
    with pytest.raises(FileExistsError):
        _create("pepper-once")
    assert _pepper("pepper-once").mac(b"x") == value


def test_missing_key_token_or_library_is_unavailable(softhsm):
    with pytest.raises(PepperUnavailableError, match="no pepper key"):
        _pepper("no-such-label").mac(b"x")
    with pytest.raises(PepperUnavailableError, match="not found"):
        _pepper("pepper", token="no-such-token").mac(b"x")
    missing_library = Pkcs11Pepper(
        library_path="/nonexistent/libpkcs11.so", token_label=TOKEN, user_pin=USER_PIN
    )
    with pytest.raises(PepperUnavailableError, match="does not exist"):
        missing_library.mac(b"x")


def test_wrong_token_pin_is_unavailable(softhsm):
    with pytest.raises(PepperUnavailableError, match="cannot log in"):
        _pepper("anything", token=SPARE_TOKEN, pin="0000").mac(b"x")


def test_an_extractable_key_is_refused(softhsm):
    _import_secret("pepper-extractable", os.urandom(32), extractable=True)
    with pytest.raises(InsecurePepperError):
        _pepper("pepper-extractable").mac(b"x")


def test_mac_works_in_a_forked_worker(softhsm):
    """granian forks workers after the app is loaded: a child must reopen the token itself."""
    pepper = _create("pepper-fork")
    expected = pepper.mac(b"fork")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(read_end)
            os.write(write_end, pepper.mac(b"fork"))
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        from_child = reader.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert from_child == expected
    assert pepper.mac(b"fork") == expected  # the parent's session is untouched
