"""A 100 MB contract through the whole service — upload, seal, signature, validation, stored
versions, download — holding the file in memory at most once (issue 5: "without loading the
file into memory more than once"). A memory assertion, not a timing one.

Uploading, signing (:func:`keiin.pdf.certify_file`/``approve_file``), storing and downloading
all stream in chunks (signing alone: ``tests/unit/pdf/test_streaming_memory.py``, under 0.1x).
What reads the file is the operator's automatic validation: pyHanko's difference analysis
(what changed after each signature, and whether DocMDP allowed it) reads every object of each
signed revision, big content streams included, and keeps them until the validation ends — one
copy per signature of the document being validated (here two: the seal and the signature).
"""

from __future__ import annotations

import hashlib
import tracemalloc

import pytest

from keiin.web.contracts import services
from keiin.web.contracts.files import blob_store
from keiin.web.contracts.models import Contract, ContractVersion
from tests.support.contracts import SEAL_PIN, SIGNER_PIN
from tests.support.partners import client_for
from tests.unit.pdf.support import write_big_pdf

pytest_plugins = ["tests.support.smtp", "tests.support.contract_world"]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.bigfile]

SIZE = 100 * 1000 * 1000


def test_a_100_mb_contract_never_sits_in_memory(contract_world, tmp_path):
    world = contract_world
    source = tmp_path / "big.pdf"
    size = write_big_pdf(source, SIZE)
    tracemalloc.start()
    try:
        with source.open("rb") as upload:
            contract = services.create_contract(world.terms(), upload, creator=world.manager)
        services.seal(contract, world.manager, SEAL_PIN)
        contract.refresh_from_db()
        services.mark_viewed(contract, world.signatory, contract.latest_version())
        services.sign(contract, world.signatory, SIGNER_PIN)
        contract.refresh_from_db()
        response = client_for(world.signatory).get(
            f"/p/{world.partner.login_slug}/contracts/{contract.public_id}/download/"
        )
        digest = hashlib.sha256()
        for chunk in response.streaming_content:
            digest.update(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert contract.status == Contract.Status.COMPLETED, contract.latest_version().validation_report
    # At most the validation's copies (one per signature: two here), plus small change.
    assert peak < size * 5 // 2, f"peak Python allocations {peak:,} bytes for {size:,} bytes"
    assert digest.hexdigest() == contract.original_sha256
    versions = list(contract.versions.order_by("number"))
    assert [v.kind for v in versions] == ["uploaded", "certified", "signed"]
    assert all(blob_store().size(v.sha256) == v.size for v in versions)
    assert versions[-1].validation == ContractVersion.Validation.PASSED
