"""keiin.web.audit.log: the audit chain in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection, transaction

from keiin.audit import GENESIS_HASH, chain_hash
from keiin.web.audit.log import _stored, record, verify
from keiin.web.audit.models import AuditEvent, AuditHead

pytestmark = pytest.mark.django_db


def _append(n: int) -> list[AuditEvent]:
    return [
        record(
            "test.event",
            actor=f"actor-{i}",
            target=f"target-{i}",
            data={"i": i, "名前": "山田 太郎", "nested": {"z": [1, "two", None, True], "a": {}}},
        )
        for i in range(1, n + 1)
    ]


def test_record_appends_chained_rows():
    events = _append(4)
    assert [e.seq for e in events] == [1, 2, 3, 4]
    rows = list(AuditEvent.objects.order_by("seq"))
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    assert rows[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
        assert after.at >= before.at
    assert len({r.hash for r in rows}) == 4
    assert len({r.mac for r in rows}) == 4
    head = AuditHead.objects.get(id=1)
    assert (head.seq, head.hash) == (4, rows[-1].hash)
    assert rows[2].actor == "actor-3"
    assert rows[2].data["名前"] == "山田 太郎"


def test_stored_rows_hash_to_their_hash_column():
    _append(3)
    for stored in _stored():
        assert chain_hash(stored.prev_hash, stored.fields) == stored.hash


def test_verify_ok():
    _append(5)
    report = verify()
    assert report.ok
    assert report.checked == 5


def test_verify_empty_log():
    report = verify()
    assert report.ok and report.checked == 0


def test_record_rolls_back_with_its_transaction():
    _append(2)

    class BoomError(Exception):
        pass

    with pytest.raises(BoomError), transaction.atomic():
        record("test.event", actor="x", data={"doomed": True})
        raise BoomError
    assert AuditEvent.objects.count() == 2
    assert AuditHead.objects.get(id=1).seq == 2
    record("test.event", actor="x")
    assert verify().ok
    assert verify().checked == 3


@pytest.mark.parametrize(
    "change",
    [
        {"data": {"i": 3, "forged": True}},
        {"actor": "mallory"},
        {"action": "test.other"},
        {"target": "elsewhere"},
    ],
)
def test_tampering_one_row_is_reported(change):
    _append(5)
    assert AuditEvent.objects.filter(seq=3).update(**change) == 1
    report = verify()
    assert not report.ok
    assert report.first_bad_seq == 3
    assert report.checked == 2


def test_tampering_with_raw_sql_is_reported():
    _append(4)
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET actor = %s WHERE seq = %s", ["mallory", 2])
    report = verify()
    assert (report.ok, report.first_bad_seq) == (False, 2)


def test_tampering_with_the_time_is_reported():
    events = _append(4)
    from datetime import timedelta

    AuditEvent.objects.filter(seq=4).update(at=events[3].at + timedelta(microseconds=1))
    report = verify()
    assert (report.ok, report.first_bad_seq) == (False, 4)


def test_deleting_the_last_row_is_caught_via_the_head():
    _append(5)
    AuditEvent.objects.filter(seq=5).delete()
    report = verify()
    assert not report.ok
    assert report.first_bad_seq == 5
    assert report.checked == 4


def test_deleting_a_middle_row_is_caught():
    _append(5)
    AuditEvent.objects.filter(seq=3).delete()
    report = verify()
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "missing" in report.reason


def test_deleting_the_head_row_is_caught():
    _append(2)
    AuditHead.objects.all().delete()
    report = verify()
    assert not report.ok


def test_rewinding_the_head_is_caught():
    events = _append(3)
    AuditHead.objects.filter(id=1).update(seq=2, hash=events[1].hash)
    report = verify()
    assert not report.ok
    assert report.first_bad_seq == 3


@pytest.mark.parametrize(
    "data",
    [
        {"float": 1.5},
        {"big": 1e20},
        {"negative_zero": -0.0},
        {"deep": [{"x": 0.1}]},
    ],
)
def test_floats_are_refused(data):
    """PostgreSQL's jsonb rewrites some floats (1e20 -> 100000000000000000000, -0.0 -> 0.0),
    which would break the chain on read-back; the log accepts no floats at all."""
    with pytest.raises(TypeError, match="float"):
        record("test.event", actor="x", data=data)
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize(
    "data",
    [
        {"big_int": 2**70, "neg": -(2**63)},
        {"unicode": "契印 ✓ \u00e9", "empty": "", "list": [[], {}], "bool": False},
        {"s": 'quote" backslash\\ newline\n tab\t'},
    ],
)
def test_json_round_trips_on_every_database(data):
    record("test.event", actor="x", data=data)
    assert verify().ok
    assert AuditEvent.objects.get(seq=1).data == data
