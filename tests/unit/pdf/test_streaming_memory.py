"""A 100 MB PDF is certified and approved through the file API without ever being held in
memory: Python's allocations and the process's resident memory stay far below the file size.

These are memory assertions, not timings. The file is written in 1 MiB chunks (a page with one
image of random, incompressible samples) and takes a few seconds to sign twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from keiin.pdf.signing import SignatureField, approve_file, certify_file
from tests.unit.pdf.support import TestCa, one_shot_signer, timestamper, write_big_pdf

pytestmark = pytest.mark.bigfile

#: "A 100 MB PDF signs without loading the file into memory more than once" (issue 5).
SIZE = 100 * 1000 * 1000
REPOSITORY = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def big_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.pdf"
    assert write_big_pdf(path, SIZE) >= SIZE
    return path


def test_python_allocations_stay_flat(big_pdf, pki, seal, tmp_path):
    size = big_pdf.stat().st_size
    certified, approved = tmp_path / "certified.pdf", tmp_path / "approved.pdf"
    tracemalloc.start()
    try:
        with one_shot_signer(seal.certificate, seal.key, pki) as signer:
            certify_file(
                big_pdf,
                certified,
                signer,
                timestamper=timestamper(pki),
                field_name="Seal",
                signature_fields=[SignatureField("Signatory")],
            )
        with one_shot_signer(pki.signer, pki.signer_key, pki) as signer:
            approve_file(
                certified,
                approved,
                signer,
                timestamper=timestamper(pki),
                revinfo=TestCa(pki),
                field_name="Signatory",
                stamp=None,
            )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size // 10, f"peak Python allocations {peak:,} bytes for a {size:,}-byte PDF"
    # Every step appended to the same file: the original is a prefix, and all is signed.
    assert approved.stat().st_size > certified.stat().st_size > size
    with big_pdf.open("rb") as original, approved.open("rb") as result:
        assert result.read(1 << 20) == original.read(1 << 20)
        reader = PdfFileReader(result, strict=False)
        names = {s.field_name for s in reader.embedded_signatures}
        assert names == {"Seal", "Signatory", "Signatory_DocTimeStamp"}
        [doc_ts] = reader.embedded_timestamp_signatures
        byte_range = doc_ts.sig_object["/ByteRange"]
        assert byte_range[2] + byte_range[3] == approved.stat().st_size


def test_resident_memory_stays_flat(big_pdf, tmp_path):
    """The same in a fresh process, counting every allocation (C too): the growth of the
    resident set's high-water mark while signing."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from tests.unit.pdf.support import peak_memory_of_signing\n"
        "print(json.dumps(peak_memory_of_signing(Path(sys.argv[1]), Path(sys.argv[2]))))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), str(REPOSITORY / "src")])}
    result = subprocess.run(
        [sys.executable, "-c", code, str(big_pdf), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    memory = json.loads(result.stdout.strip().splitlines()[-1])
    growth = (memory["peak"] - memory["baseline"]) * 1024
    size = big_pdf.stat().st_size
    assert growth < size // 4, f"resident memory grew by {growth:,} bytes for {size:,}"
    assert (tmp_path / "approved.pdf").stat().st_size > size
