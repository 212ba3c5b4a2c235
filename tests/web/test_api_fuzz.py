"""Random query strings, paths, headers and bodies against every endpoint: always an answer
below 500, and JSON with a reason whenever the API refuses."""

from __future__ import annotations

import json
import string
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.pdf.support import minimal_pdf

pytest_plugins = ["tests.support.smtp", "tests.support.contract_world", "tests.support.api"]
pytestmark = pytest.mark.django_db(transaction=True)

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# No lone surrogates: they cannot be encoded into a request at all.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
NUMBERISH = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["", " ", "0", "1e3", "NaN", "inf", "0x10", "1.5", "-0", "١٢"]),
)
DATEISH = st.one_of(
    st.dates().map(str),
    st.sampled_from(["2026-02-30", "0000-01-01", "9999-12-31", "2026-1-1", "today", "T"]),
)
VALUE = st.one_of(TEXT, NUMBERISH, DATEISH)
QUERY_KEYS = [
    "date_from",
    "date_to",
    "amount_min",
    "amount_max",
    "counterparty",
    "q",
    "status",
    "limit",
    "offset",
    "version",
]
FORM_KEYS = [
    "title",
    "partner_id",
    "signatories",
    "contract_date",
    "amount",
    "starts_on",
    "ends_on",
    "sign_by",
    "retention_until",
    "allow_signed",
    "note",
]


def _check(response) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.request["REQUEST_METHOD"] == "HEAD":
        assert response.content == b""
    elif response.get("Content-Type", "").startswith("application/json"):
        body = json.loads(response.content)
        if response.status_code >= 400:
            assert body.get("detail"), body


@pytest.fixture
def fuzz_client(api_world):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_world.key_a}")
    return client, api_world.world.draft(), api_world.draft_b()


def test_random_search_queries(fuzz_client):
    client, _a, _b = fuzz_client

    @FUZZ
    @given(st.dictionaries(st.one_of(st.sampled_from(QUERY_KEYS), TEXT), VALUE, max_size=6))
    def run(params: dict[str, str]) -> None:
        response = client.get("/api/v1/contracts", params)
        _check(response)
        if response.status_code == 200:
            assert "Beta" not in response.content.decode()

    run()


def test_random_paths_and_versions(fuzz_client):
    client, a_contract, b_contract = fuzz_client
    public_ids = st.one_of(
        TEXT, st.sampled_from([a_contract.public_id, b_contract.public_id, "%00", "..", "."])
    )

    @FUZZ
    @given(public_ids, st.sampled_from(["", "/document", "/cancel", "/x"]), VALUE)
    def run(public_id: str, tail: str, version: str) -> None:
        path = f"/api/v1/contracts/{quote(public_id, safe='%')}{tail}"
        unknown = f"/api/v1/contracts/{'f' * 32}{tail}"
        for method in (client.get, client.head):
            response = method(path, {"version": version})
            _check(response)
            if public_id == b_contract.public_id:  # B's contract is as if it did not exist
                other = method(unknown, {"version": version})
                assert (response.status_code, response.content) == (
                    other.status_code,
                    other.content,
                )

    run()


def test_random_cancel_bodies(fuzz_client):
    client, a_contract, b_contract = fuzz_client
    json_values = st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)
        ),
        max_leaves=8,
    )
    bodies = st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(st.sampled_from(["reason", "x"]), json_values, max_size=2).map(
            lambda v: json.dumps(v).encode()
        ),
    )
    content_types = st.sampled_from(
        [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "",
            "multipart/form-data",
        ]
    )

    @FUZZ
    @given(st.sampled_from([a_contract.public_id, b_contract.public_id]), bodies, content_types)
    def run(public_id: str, body: bytes, content_type: str) -> None:
        response = client.post(
            f"/api/v1/contracts/{public_id}/cancel", data=body, content_type=content_type
        )
        _check(response)
        if public_id == b_contract.public_id:
            # Exactly what a contract that does not exist gets (400/422 for the body, or 404).
            unknown = client.post(
                f"/api/v1/contracts/{'f' * 32}/cancel", data=body, content_type=content_type
            )
            assert (response.status_code, response.content) == (
                unknown.status_code,
                unknown.content,
            )

    run()
    b_contract.refresh_from_db()
    assert b_contract.status == "draft"


def test_random_create_forms(fuzz_client, api_world):
    client, _a, _b = fuzz_client
    pdf = minimal_pdf()
    fields = st.dictionaries(
        st.one_of(st.sampled_from(FORM_KEYS), TEXT.filter(lambda k: k and "\x00" not in k)),
        st.one_of(VALUE, st.lists(VALUE, max_size=3)),
        max_size=8,
    )
    files = st.one_of(st.none(), st.just(pdf), st.binary(max_size=300))

    @FUZZ
    @given(fields, files)
    def run(data: dict, file: bytes | None) -> None:
        if file is not None:
            from django.core.files.uploadedfile import SimpleUploadedFile

            data = {**data, "file": SimpleUploadedFile("x.pdf", file, "application/pdf")}
        _check(client.post("/api/v1/contracts", data))

    run()


def test_random_authorization_headers(api_world):
    values = st.text(
        st.sampled_from(string.ascii_letters + string.digits + "_- =:./+\t"), max_size=90
    )

    @FUZZ
    @given(
        st.one_of(
            values, values.map(lambda v: "Bearer " + v), values.map(lambda v: "Bearer keiin_" + v)
        )
    )
    def run(header: str) -> None:
        response = Client().get("/api/v1/contracts", HTTP_AUTHORIZATION=header)
        assert response.status_code in (401, 429), header
        _check(response)

    run()


def test_create_with_one_random_field(fuzz_client, api_world):
    """A valid request with one field replaced: every edge of every field is a 201 or a 4xx."""
    client, _a, _b = fuzz_client
    pdf = minimal_pdf()
    valid = {
        "title": "契約",
        "partner_id": str(api_world.partner_a.pk),
        "signatories": [str(api_world.signatory_a.pk)],
        "contract_date": "2026-11-01",
    }
    offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
        lambda m: f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
    )
    datetimes = st.one_of(
        st.datetimes().map(lambda d: d.isoformat()),
        st.tuples(st.datetimes(), offsets).map(lambda t: t[0].isoformat() + t[1]),
    )
    values = st.one_of(VALUE, datetimes, st.lists(VALUE, max_size=3))

    @FUZZ
    @given(st.sampled_from(FORM_KEYS), values)
    def run(field: str, value) -> None:
        from django.core.files.uploadedfile import SimpleUploadedFile

        data = {**valid, field: value, "file": SimpleUploadedFile("k.pdf", pdf, "application/pdf")}
        response = client.post("/api/v1/contracts", data)
        _check(response)
        assert response.status_code in (201, 422), response.content[:300]

    run()
