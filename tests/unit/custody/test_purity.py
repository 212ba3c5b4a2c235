"""keiin.custody is pure domain code: importing every module of it never loads Django."""

from __future__ import annotations

import subprocess
import sys


def test_custody_package_does_not_import_django():
    code = (
        "import sys, pkgutil, importlib, keiin.custody\n"
        "names = [m.name for m in pkgutil.iter_modules(keiin.custody.__path__)]\n"
        "assert 'pkcs11_pepper' in names and 'credential' in names, names\n"
        "for name in names:\n"
        "    importlib.import_module('keiin.custody.' + name)\n"
        "loaded = sorted(n for n in sys.modules if n == 'django' or n.startswith('django.'))\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
