"""The data folder ("home"): where Keiin keeps its database, keys, secrets and files.

Layout (created by ``keiin init``)::

    HOME/
      keiin.sqlite3        default database (unless DATABASE_URL names another)
      keys/                private keys, AES-256-GCM encrypted under the master key
      secrets/             0700: master.key, secret_key, audit.key, tsa-serial.key (unless moved)
      outbox/              mail written by the local outbox backend (demo)
      run/                 shared state between processes (cache generations, TSA log socket)
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from keiin.pki.keystore import load_or_create_master_key, write_new_file

DEFAULT_HOME = "keiin-data"


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--home`` if given, else ``$KEIIN_HOME``, else ``./keiin-data``; made absolute."""
    chosen = explicit or os.environ.get("KEIIN_HOME") or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class Home:
    """Paths inside one data folder."""

    root: Path

    @property
    def sqlite_path(self) -> Path:
        return self.root / "keiin.sqlite3"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def master_key_file(self) -> Path:
        override = os.environ.get("KEIIN_MASTER_KEY_FILE")
        return Path(override).expanduser() if override else self.secrets / "master.key"

    def create(self) -> None:
        """Create the folders (idempotent), with private permissions where it matters."""
        for folder in (self.root, self.keys, self.outbox, self.run):
            folder.mkdir(parents=True, exist_ok=True)
        self.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.secrets, 0o700)
        os.chmod(self.keys, 0o700)

    def master_key(self) -> bytes:
        """The 32-byte master key that encrypts private keys (created on first use)."""
        self.master_key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return load_or_create_master_key(self.master_key_file)

    def secret(self, name: str, nbytes: int = 32) -> bytes:
        """A named random secret in ``secrets/`` (created on first use, never rewritten)."""
        path = self.secrets / name
        if not path.exists():
            self.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                write_new_file(path, base64.b64encode(secrets.token_bytes(nbytes)) + b"\n")
            except FileExistsError:
                pass
        return base64.b64decode(path.read_bytes().strip())
