"""keiin.blobs is pure domain code: importing every module of it never loads Django."""

from __future__ import annotations

import subprocess
import sys


def test_blobs_package_does_not_import_django():
    code = (
        "import sys, pkgutil, importlib, keiin.blobs\n"
        "for m in pkgutil.iter_modules(keiin.blobs.__path__):\n"
        "    importlib.import_module('keiin.blobs.' + m.name)\n"
        "loaded = sorted(n for n in sys.modules if n == 'django' or n.startswith('django.'))\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
