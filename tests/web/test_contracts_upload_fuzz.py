"""Hostile uploads: whatever the bytes, the upload check answers with a clear refusal (or
accepts a readable PDF) — never another exception, and nothing refused stays referenced."""

from __future__ import annotations

from io import BytesIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiin.web.contracts.files import UploadError, store_upload
from keiin.web.contracts.models import ContractVersion
from tests.unit.pdf.support import minimal_pdf

pytestmark = pytest.mark.django_db

SEED = minimal_pdf(1)


@pytest.fixture(autouse=True)
def _blobs(settings, tmp_path):
    settings.KEIIN_BLOB_DIR = tmp_path / "blobs"


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.binary(max_size=4096),
        st.binary(max_size=2048).map(lambda tail: b"%PDF-1.7\n" + tail),
        st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=12).map(
            lambda edits: _mutate(SEED, edits)
        ),
        st.integers(1, len(SEED) - 1).map(lambda cut: SEED[:cut]),
    )
)
def test_any_bytes_get_an_answer(data):
    try:
        ref = store_upload(BytesIO(data))
    except UploadError as exc:
        assert str(exc)
    else:
        assert ref.size == len(data)
    assert not ContractVersion.objects.exists()
