"""The ``keiin`` command, run as a subprocess on temporary homes (always SQLite: these tests
unset DATABASE_URL so each home has its own database file)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

KEIIN = [sys.executable, "-m", "keiin.cli"]
ADMIN_PASSWORD = "correct horse battery staple 42"


def _env(home: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEIIN_", "DATABASE_URL"))}
    env["KEIIN_BASE_URL"] = "http://127.0.0.1:8000"
    if home is not None:
        env["KEIIN_HOME"] = str(home)
    return env


def keiin(home: Path | None, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*KEIIN, *args],
        env=_env(home),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def keiin_many(
    runs: list[tuple[Path | None, tuple[str, ...]]], cwd: Path | None = None
) -> list[subprocess.CompletedProcess]:
    """Run independent commands side by side (each one spends most of its time importing)."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(lambda run: keiin(run[0], *run[1], cwd=cwd), runs))


def ok(home: Path | None, *args: str) -> subprocess.CompletedProcess:
    result = keiin(home, *args)
    assert result.returncode == 0, f"keiin {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def one_line_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit status 1 and exactly one ``keiin: …`` line on stderr, no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("keiin: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def snapshot(home: Path) -> dict[str, str]:
    """SHA-256 of every key and secret file."""
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in (home / "keys", home / "secrets")
        for p in sorted(folder.iterdir())
    }


@contextlib.contextmanager
def db(home: Path) -> Iterator[sqlite3.Connection]:
    """A connection to a home's database, committed and *closed* on exit.

    (``with sqlite3.connect(...)`` alone never closes; a connection left to the garbage
    collector would delete the WAL files at a random moment, e.g. while a home is copied.)
    """
    conn = sqlite3.connect(home / "keiin.sqlite3")
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def fingerprints(home: Path) -> dict[str, str]:
    with db(home) as conn:
        return dict(conn.execute("SELECT slug, fingerprint_sha256 FROM ca_certificateauthority"))


def certificate_count(home: Path) -> int:
    with db(home) as conn:
        return conn.execute("SELECT count(*) FROM ca_issuedcertificate").fetchone()[0]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """One initialised home shared by the read-mostly tests of this module."""
    path = tmp_path_factory.mktemp("cli") / "home"
    result = ok(
        path,
        "init",
        "--organization",
        "CLI Test KK",
        "--admin-email",
        "ops@example.jp",
        "--admin-password",
        ADMIN_PASSWORD,
    )
    path.joinpath("init.out").write_text(result.stdout)
    return path


@pytest.fixture
def own_home(home, tmp_path) -> Path:
    """A private copy of the initialised home, for tests that change or damage it."""
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    return copy


# --------------------------------------------------------------------------- init


def test_init_twice_overwrites_nothing(tmp_path):
    home = tmp_path / "fresh"
    first = ok(home, "init")
    assert "Created the CA hierarchy" in first.stdout
    assert "One-time password" in first.stdout
    prints = fingerprints(home)
    assert set(prints) == {"root-ca-1", "issuing-ca-1"}
    for fp in prints.values():
        assert fp in first.stdout
    files = snapshot(home)
    assert {"secrets/master.key", "secrets/audit.key", "secrets/secret_key"} <= set(files)
    assert len([f for f in files if f.startswith("keys/")]) == 5  # root, issuing, TSA, 2 OCSP
    for name in ("keys", "secrets"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "secrets" / "master.key").stat().st_mode) == 0o600
    with db(home) as conn:
        users = conn.execute("SELECT login_id, must_change_password FROM accounts_user").fetchall()
        certs, events = (
            conn.execute("SELECT count(*) FROM ca_issuedcertificate").fetchone()[0],
            conn.execute("SELECT count(*) FROM audit_auditevent").fetchone()[0],
        )
    assert users == [("admin", 1)]  # a generated password must be changed

    second = ok(home, "init", "--organization", "Another Name", "--admin-password", "x" * 20)
    assert "already present (nothing overwritten)" in second.stdout
    assert "Operator administrator already exists" in second.stdout
    assert "One-time password" not in second.stdout
    for fp in prints.values():
        assert fp in second.stdout
    assert fingerprints(home) == prints
    assert snapshot(home) == files
    with db(home) as conn:
        assert conn.execute("SELECT count(*) FROM accounts_user").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM ca_issuedcertificate").fetchone()[0] == certs
        assert conn.execute("SELECT count(*) FROM audit_auditevent").fetchone()[0] == events


def test_init_with_admin_password(home):
    out = (home / "init.out").read_text()
    assert "Created the CA hierarchy" in out
    assert "CLI Test KK Root CA" in out
    assert "One-time password" not in out
    assert ADMIN_PASSWORD not in out
    with db(home) as conn:
        row = conn.execute(
            "SELECT login_id, email, role, must_change_password, password FROM accounts_user"
        ).fetchall()
    assert len(row) == 1
    login, email, role, must_change, encoded = row[0]
    assert (login, email, role, must_change) == ("admin", "ops@example.jp", "operator_admin", 0)
    assert encoded.startswith("argon2$argon2id$")
    from argon2 import PasswordHasher

    assert PasswordHasher().verify(encoded.removeprefix("argon2"), ADMIN_PASSWORD)


def test_home_flag_wins_over_the_environment(home, tmp_path):
    elsewhere = tmp_path / "not-a-home"
    result = keiin(elsewhere, "ca", "list", "--json", "--home", str(home))
    assert result.returncode == 0, result.stderr
    assert not elsewhere.exists()


# --------------------------------------------------------------------------- ca issue


def _issue(
    home: Path, out: Path, *extra: str, cn: str = "山田 太郎"
) -> subprocess.CompletedProcess:
    return keiin(
        home,
        "ca",
        "issue",
        "--cn",
        cn,
        "--email",
        "taro@example.jp",
        "--org",
        "Example KK",
        "--out-cert",
        str(out / "cert.pem"),
        "--out-key",
        str(out / "key.pem"),
        *extra,
    )


def _public(key_or_cert) -> bytes:
    return key_or_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_ca_issue_writes_certificate_and_key(own_home, tmp_path):
    result = _issue(own_home, tmp_path, "--out-chain", str(tmp_path / "chain.pem"))
    assert result.returncode == 0, result.stderr
    assert "(NOT encrypted)" in result.stdout
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    key = serialization.load_pem_private_key((tmp_path / "key.pem").read_bytes(), password=None)
    assert _public(key) == _public(cert)
    assert (tmp_path / "key.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "山田 太郎"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Example KK"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["taro@example.jp"]
    chain = x509.load_pem_x509_certificates((tmp_path / "chain.pem").read_bytes())
    assert len(chain) == 2
    cert.verify_directly_issued_by(chain[0])
    chain[0].verify_directly_issued_by(chain[1])
    assert f"{cert.serial_number:x}" in result.stdout
    listed = json.loads(ok(own_home, "ca", "list", "--json", "--profile", "signer").stdout)
    assert [c["serial"] for c in listed["certificates"]] == [f"{cert.serial_number:x}"]


def test_ca_issue_encrypts_the_key_with_a_passphrase(own_home, tmp_path):
    result = _issue(own_home, tmp_path, "--key-passphrase", "s3cret pass")
    assert result.returncode == 0, result.stderr
    assert "(encrypted)" in result.stdout
    pem = (tmp_path / "key.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, password=None)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(pem, password=b"wrong")
    key = serialization.load_pem_private_key(pem, password=b"s3cret pass")
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    assert _public(key) == _public(cert)


def test_ca_issue_refuses_to_overwrite(own_home, tmp_path):
    (tmp_path / "cert.pem").write_bytes(b"precious")
    before = certificate_count(own_home)
    one_line_error(_issue(own_home, tmp_path), "exists", "--force")
    assert (tmp_path / "cert.pem").read_bytes() == b"precious"
    assert not (tmp_path / "key.pem").exists()
    assert certificate_count(own_home) == before  # refused before issuing anything

    (tmp_path / "pass.txt").write_text("from a file\n")
    passphrase = ("--key-passphrase-file", str(tmp_path / "pass.txt"))
    result = _issue(own_home, tmp_path, "--force", *passphrase)
    assert result.returncode == 0, result.stderr
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    key = serialization.load_pem_private_key(
        (tmp_path / "key.pem").read_bytes(), password=b"from a file"
    )
    assert _public(key) == _public(cert)
    assert certificate_count(own_home) == before + 1


def test_ca_issue_force_makes_the_key_file_private(own_home, tmp_path):
    (tmp_path / "key.pem").write_bytes(b"old")
    os.chmod(tmp_path / "key.pem", 0o644)
    assert _issue(own_home, tmp_path, "--force").returncode == 0
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600


def test_ca_issue_bad_input(home, tmp_path):
    out = ("--out-cert", str(tmp_path / "c.pem"), "--out-key", str(tmp_path / "k.pem"))
    before = certificate_count(home)
    bad_email, bad_validity = keiin_many(
        [
            (home, ("ca", "issue", "--cn", "X", "--email", "not-an-email", *out)),
            (
                home,
                (
                    "ca",
                    "issue",
                    "--cn",
                    "X",
                    "--email",
                    "x@example.jp",
                    "--validity-days",
                    "0",
                    *out,
                ),
            ),
        ]
    )
    one_line_error(bad_email, "e-mail")
    one_line_error(bad_validity, "validity")
    assert not (tmp_path / "k.pem").exists()
    assert certificate_count(home) == before


# --------------------------------------------------------------------------- ca list


def test_ca_list_json(home):
    listed = json.loads(ok(home, "ca", "list", "--json").stdout)
    authorities = {a["slug"]: a for a in listed["authorities"]}
    assert set(authorities) == {"root-ca-1", "issuing-ca-1"}
    assert authorities["root-ca-1"]["kind"] == "root"
    assert authorities["issuing-ca-1"]["active"] is True
    assert authorities == {
        slug: {**a, "sha256": fingerprints(home)[slug]} for slug, a in authorities.items()
    }
    profiles = sorted(c["profile"] for c in listed["certificates"])
    assert profiles[:4] == ["issuing-ca", "ocsp", "ocsp", "tsa"]
    for cert in listed["certificates"]:
        assert cert["status"] == "valid" and cert["revoked_at"] is None
        int(cert["serial"], 16)
    text = ok(home, "ca", "list").stdout
    assert "root-ca-1" in text and "SERIAL" in text


# --------------------------------------------------------------------------- ca revoke


def _signer_serial(home: Path, tmp_path: Path) -> str:
    assert _issue(home, tmp_path).returncode == 0
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    return f"{cert.serial_number:x}"


def test_ca_revoke(own_home, tmp_path):
    serial = _signer_serial(own_home, tmp_path)
    future = keiin(
        own_home, "ca", "revoke", serial, "--reason", "keyCompromise",
        "--invalidity-date", "2999-01-01T00:00:00Z",
    )  # fmt: skip
    one_line_error(future, "future")
    padded = serial.zfill(len(serial) + len(serial) % 2)
    colons = ":".join(padded[i : i + 2] for i in range(0, len(padded), 2))  # as openssl prints
    result = ok(
        own_home,
        "ca",
        "revoke",
        colons.upper(),
        "--reason",
        "key-compromise",
        "--invalidity-date",
        "2024-01-02T03:04:05+09:00",
    )
    assert serial in result.stdout and "keyCompromise" in result.stdout
    listed = json.loads(ok(own_home, "ca", "list", "--json").stdout)
    [row] = [c for c in listed["certificates"] if c["serial"] == serial]
    assert row["status"] == "revoked" and row["reason"] == "keyCompromise"
    with db(own_home) as conn:
        (invalidity,) = conn.execute(
            "SELECT invalidity_date FROM ca_issuedcertificate WHERE serial_hex = ?", [serial]
        ).fetchone()
    assert invalidity.startswith("2024-01-01 18:04:05")  # stored in UTC
    one_line_error(keiin(own_home, "ca", "revoke", serial, "--reason", "superseded"), "already")
    ok(own_home, "audit", "verify")


REVOKE_ERRORS = [
    (("abcdef", "--reason", "because"), ("unknown revocation reason", "keyCompromise")),
    (("abcdef0123", "--reason", "superseded"), ("no certificate with serial abcdef0123",)),
    (("not-hex!", "--reason", "superseded"), ("not a hexadecimal serial",)),
    (("abcdef", "--reason", "superseded", "--invalidity-date", "yesterday"), ("ISO 8601",)),
]


def test_ca_revoke_errors(home):
    events = ok(home, "audit", "verify").stdout
    results = keiin_many([(home, ("ca", "revoke", *args)) for args, _ in REVOKE_ERRORS])
    for (_args, needles), result in zip(REVOKE_ERRORS, results, strict=True):
        one_line_error(result, *needles)
    assert ok(home, "audit", "verify").stdout == events  # nothing happened


# --------------------------------------------------------------------------- audit verify


def test_audit_verify_then_tamper(own_home):
    result = ok(own_home, "audit", "verify")
    assert "audit chain intact" in result.stdout
    with db(own_home) as conn:
        total = conn.execute("SELECT count(*) FROM audit_auditevent").fetchone()[0]
        assert total >= 8
        conn.execute("UPDATE audit_auditevent SET actor = 'mallory' WHERE seq = 3")
    assert f"{total} events" in result.stdout
    result = keiin(own_home, "audit", "verify")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "event 3" in result.stderr
    assert "BROKEN" in result.stderr


def test_audit_verify_catches_a_deleted_last_row(own_home):
    with db(own_home) as conn:
        last = conn.execute("SELECT max(seq) FROM audit_auditevent").fetchone()[0]
        conn.execute("DELETE FROM audit_auditevent WHERE seq = ?", [last])
    result = keiin(own_home, "audit", "verify")
    assert result.returncode != 0
    assert f"event {last}" in result.stderr


# --------------------------------------------------------------------------- missing home


MISSING_HOME_COMMANDS = [
    ("ca", "list"),
    ("ca", "list", "--json"),
    ("ca", "revoke", "abcdef", "--reason", "superseded"),
    ("ca", "issue", "--cn", "X", "--email", "x@example.jp", "--out-cert", "c", "--out-key", "k"),
    ("ca", "chain"),
    ("ca", "crl"),
    ("audit", "verify"),
    ("maintenance",),
    ("serve",),
]


def test_missing_home_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere"
    results = keiin_many([(missing, args) for args in MISSING_HOME_COMMANDS], cwd=tmp_path)
    for args, result in zip(MISSING_HOME_COMMANDS, results, strict=True):
        assert "no Keiin home" in one_line_error(result, str(missing), "keiin init"), args
    assert not missing.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_missing_home_named_by_flag(tmp_path):
    missing = tmp_path / "flagged"
    one_line_error(keiin(None, "ca", "list", "--home", str(missing)), str(missing))


def test_uninitialised_home_is_a_clear_error(tmp_path):
    listing, revoking = keiin_many(
        [(tmp_path, ("ca", "list")), (tmp_path, ("ca", "revoke", "ab", "--reason", "superseded"))]
    )
    one_line_error(listing, "keiin init")
    one_line_error(revoking, "keiin init")


def test_audit_verify_on_an_uninitialised_home(tmp_path):
    one_line_error(keiin(tmp_path, "audit", "verify"), "keiin init")


def test_usage_errors_exit_2():
    result = keiin(None, "ca", "revoke")
    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert keiin(None, "--version").stdout.startswith("keiin ")


# --------------------------------------------------------------------------- staff, contracts


def test_staff_add_list_deactivate(own_home):
    result = ok(own_home, "staff", "add", "--login", "keiyaku", "--email", "k@example.jp")
    assert "Created contract_manager 'keiyaku'" in result.stdout
    assert "One-time password" in result.stdout
    with db(own_home) as conn:
        role, must_change = conn.execute(
            "SELECT role, must_change_password FROM accounts_user WHERE login_id = 'keiyaku'"
        ).fetchone()
    assert (role, must_change) == ("contract_manager", 1)
    again = keiin(own_home, "staff", "add", "--login", "keiyaku", "--email", "k@example.jp")
    assert again.returncode != 0 and "taken" in again.stderr and "Traceback" not in again.stderr
    bad = keiin(own_home, "staff", "add", "--login", "x", "--email", "not-an-address")
    assert bad.returncode != 0 and "e-mail" in bad.stderr
    assert "keiyaku" in ok(own_home, "staff", "list").stdout
    ok(own_home, "staff", "deactivate", "keiyaku")
    assert "inactive" in ok(own_home, "staff", "list").stdout


def test_contracts_commands_on_an_empty_home(own_home):
    assert (
        "checked 0 contract files: 0 problem(s)" in ok(own_home, "contracts", "verify-store").stdout
    )
    assert "reminded: 0, expired: 0" in ok(own_home, "contracts", "tick").stdout
    assert "would purge 0 contract(s)" in ok(own_home, "contracts", "purge", "--dry-run").stdout
