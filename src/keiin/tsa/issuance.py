"""Issuance-log records and their wire form between TSA workers and the log keeper.

A granted token is recorded as a :class:`LogEntry`. Under ``keiin serve`` the workers do not
write the database themselves: they stream entries over a Unix socket to one *log keeper*
(``keiin.web.timestamping.log_keeper``), which commits them in groups and acknowledges. The
format is a fixed little-endian header plus the variable fields, cheap to build on the
workers' event loops (no text conversion there: hex strings are made by the keeper).

Worker → keeper, one record per token::

    u64 request id (per connection, increasing)   i64 sequence (the row key, > 0)
    i64 genTime in microseconds since the epoch   i64 account id (-1: anonymous)
    u8  length of the hash name, of the digest, of the policy OID
    16 bytes serial, 32 bytes SHA-256 of the token, then the hash name, digest, policy (ASCII)

Keeper → worker, one acknowledgement per flush and connection: ``u8 status`` (0 committed,
1 failed) and ``u64 request id``, meaning *every* record of that connection up to and
including that id. Records of one connection are committed in order, so one number settles a
whole batch.

A stream that does not parse is a programming error or a hostile local peer: the keeper drops
the connection (its requests get ``systemFailure``), it never guesses.
"""

from __future__ import annotations

import datetime as dt
import struct
from typing import NamedTuple

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_HEAD = struct.Struct("<QqqqBBB")
_SERIAL_LEN = 16
_TOKEN_DIGEST_LEN = 32
_FIXED = _HEAD.size + _SERIAL_LEN + _TOKEN_DIGEST_LEN
_ACK = struct.Struct("<BQ")

ACK_SIZE = _ACK.size
COMMITTED = 0
FAILED = 1


class LogEntry(NamedTuple):
    """One granted token as the issuance log records it."""

    sequence: int
    serial: int
    gen_time: dt.datetime
    hash_algorithm: str
    digest: bytes
    policy: str
    account_id: int | None
    token_sha256: bytes


class WireError(ValueError):
    """Bytes that are not a well-formed record stream."""


def encode_record(request_id: int, entry: LogEntry) -> bytes:
    """The wire form of ``entry`` (see module docstring)."""
    algorithm = entry.hash_algorithm.encode("ascii")
    policy = entry.policy.encode("ascii")
    micros = (entry.gen_time - _EPOCH) // dt.timedelta(microseconds=1)
    account = -1 if entry.account_id is None else entry.account_id
    return b"".join(
        (
            _HEAD.pack(
                request_id,
                entry.sequence,
                micros,
                account,
                len(algorithm),
                len(entry.digest),
                len(policy),
            ),
            entry.serial.to_bytes(_SERIAL_LEN, "big"),
            entry.token_sha256,
            algorithm,
            entry.digest,
            policy,
        )
    )


class RecordReader:
    """Incremental decoder: feed bytes as they arrive, get whole records back."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, LogEntry]]:
        """Append ``data``; return the ``(request id, entry)`` pairs now complete.

        Raises :class:`WireError` on a record that cannot be valid.
        """
        buffer = self._buffer
        buffer += data
        out: list[tuple[int, LogEntry]] = []
        offset = 0
        size = len(buffer)
        while size - offset >= _FIXED:
            request_id, sequence, micros, account, n_alg, n_digest, n_policy = _HEAD.unpack_from(
                buffer, offset
            )
            end = offset + _FIXED + n_alg + n_digest + n_policy
            if end > size:
                break
            if sequence <= 0 or not 0 < n_alg <= 16 or not 0 < n_digest <= 64 or not n_policy:
                raise WireError("malformed issuance record")
            at = offset + _HEAD.size
            serial = int.from_bytes(buffer[at : at + _SERIAL_LEN], "big")
            at += _SERIAL_LEN
            token_sha256 = bytes(buffer[at : at + _TOKEN_DIGEST_LEN])
            at += _TOKEN_DIGEST_LEN
            try:
                algorithm = buffer[at : at + n_alg].decode("ascii")
                digest = bytes(buffer[at + n_alg : at + n_alg + n_digest])
                policy = buffer[at + n_alg + n_digest : end].decode("ascii")
            except UnicodeDecodeError:
                raise WireError("malformed issuance record") from None
            gen_time = _EPOCH + dt.timedelta(microseconds=micros)
            entry = LogEntry(
                sequence,
                serial,
                gen_time,
                algorithm,
                digest,
                policy,
                None if account < 0 else account,
                token_sha256,
            )
            out.append((request_id, entry))
            offset = end
        del buffer[:offset]
        return out


def encode_ack(status: int, request_id: int) -> bytes:
    """An acknowledgement: every record up to ``request_id`` has ``status``."""
    return _ACK.pack(status, request_id)


def decode_acks(data: bytes) -> list[tuple[int, int]]:
    """Split whole acknowledgements (``len(data)`` must be a multiple of ``ACK_SIZE``)."""
    if len(data) % ACK_SIZE:
        raise WireError("partial acknowledgement")
    return [_ACK.unpack_from(data, at) for at in range(0, len(data), ACK_SIZE)]
