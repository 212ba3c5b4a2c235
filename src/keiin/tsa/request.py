"""Parsing RFC 3161 TimeStampReq bodies into :class:`TimeStampRequest` (or a :class:`Rejection`).

asn1crypto does the decoding; this module decides what Keiin accepts. Whatever the bytes,
:func:`parse_request` returns a request or raises :class:`~keiin.tsa.response.Rejection` —
never anything else (the tests fuzz it). The token echoes the request's values, never its
bytes: the template re-encodes them in DER, so a BER-encoded request cannot smuggle non-DER
into a signed token.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import core, tsp

from keiin.tsa.response import FailInfo, Rejection

#: Largest request accepted (a SHA-512 request with a nonce and policy is about 120 bytes).
MAX_REQUEST_BYTES = 4096
#: Largest nonce accepted, in contents octets of the INTEGER (RFC 3161 suggests 64 bits).
MAX_NONCE_OCTETS = 64

#: Accepted message imprint algorithms: OID → (name, digest length).
HASH_ALGORITHMS: dict[str, tuple[str, int]] = {
    "2.16.840.1.101.3.4.2.1": ("sha256", 32),
    "2.16.840.1.101.3.4.2.2": ("sha384", 48),
    "2.16.840.1.101.3.4.2.3": ("sha512", 64),
}
#: The same, by name.
HASH_OIDS: dict[str, str] = {name: oid for oid, (name, _) in HASH_ALGORITHMS.items()}
DIGEST_SIZES: dict[str, int] = {name: size for name, size in HASH_ALGORITHMS.values()}

_NULL = b"\x05\x00"


@dataclass(frozen=True, slots=True)
class TimeStampRequest:
    """What a client asked for, checked and decoded."""

    hash_algorithm: str  # "sha256" | "sha384" | "sha512"
    digest: bytes
    policy: str | None  # dotted OID or None
    nonce: int | None
    cert_req: bool
    #: Whether the imprint's AlgorithmIdentifier had NULL parameters (True) or none (False);
    #: the token echoes the same form, since RFC 3161 §2.4.2 wants the identical value.
    null_parameters: bool = True


def parse_request(der: bytes) -> TimeStampRequest:
    """Parse and check a DER TimeStampReq; raise :class:`Rejection` saying why not."""
    if not der:
        raise Rejection(FailInfo.BAD_DATA_FORMAT, "empty request")
    if len(der) > MAX_REQUEST_BYTES:
        raise Rejection(FailInfo.BAD_DATA_FORMAT, f"request larger than {MAX_REQUEST_BYTES} bytes")
    der = bytes(der)
    fast = _fast_parse(der)
    if fast is not None:
        return fast
    return parse_request_asn1(der)


def parse_request_asn1(der: bytes) -> TimeStampRequest:
    """:func:`parse_request` done entirely by asn1crypto (the reference the fast path follows)."""
    if not der:
        raise Rejection(FailInfo.BAD_DATA_FORMAT, "empty request")
    if len(der) > MAX_REQUEST_BYTES:
        raise Rejection(FailInfo.BAD_DATA_FORMAT, f"request larger than {MAX_REQUEST_BYTES} bytes")
    try:
        return _parse(bytes(der))
    except Rejection:
        raise
    except Exception:  # asn1crypto parses lazily: any field access may fail on garbage
        raise Rejection(FailInfo.BAD_DATA_FORMAT, "not a DER TimeStampReq") from None


# -- fast path -------------------------------------------------------------------------------
#
# asn1crypto needs ~65 µs to load and inspect a request — more than signing the token. Nearly
# every client (OpenSSL, pyHanko, Java, .NET) sends the same canonical DER shape, so a
# hand-written reader accepts exactly that shape (strict DER: minimal lengths and integers, no
# extensions, certReq only as TRUE) in a few µs and returns None for anything else, which then
# goes to the asn1crypto parser above; that one alone decides every rejection. The tests check
# on fuzzed input that whenever the fast path answers, asn1crypto gives the same answer.

_IMPRINT_ALGS: dict[bytes, tuple[str, int, bool]] = {}
for _oid, (_name, _size) in HASH_ALGORITHMS.items():
    _arcs = [int(a) for a in _oid.split(".")]
    _body = bytearray()
    for _arc in [_arcs[0] * 40 + _arcs[1], *_arcs[2:]]:
        _chunk = [_arc & 0x7F]
        _arc >>= 7
        while _arc:
            _chunk.append(0x80 | (_arc & 0x7F))
            _arc >>= 7
        _body.extend(reversed(_chunk))
    _oid_tlv = bytes((0x06, len(_body))) + bytes(_body)
    _IMPRINT_ALGS[bytes((0x30, len(_oid_tlv))) + _oid_tlv] = (_name, _size, False)
    _IMPRINT_ALGS[bytes((0x30, len(_oid_tlv) + 2)) + _oid_tlv + _NULL] = (_name, _size, True)


def _header(der: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of a strict-DER TLV inside ``der[pos:end]``."""
    if pos + 2 > end:
        return None
    tag = der[pos]
    n = der[pos + 1]
    pos += 2
    if n >= 0x80:
        if n == 0x81 and pos < end and der[pos] >= 0x80:
            n = der[pos]
            pos += 1
        elif n == 0x82 and pos + 1 < end and der[pos] != 0:
            n = (der[pos] << 8) | der[pos + 1]
            pos += 2
            if n < 0x100:
                return None
        else:
            return None
    if pos + n > end:
        return None
    return tag, pos, pos + n


def _dotted(body: bytes) -> str | None:
    """The dotted form of OID contents, or None unless minimally encoded."""
    arcs: list[int] = []
    value = 0
    fresh = True
    for octet in body:
        if fresh and octet == 0x80:
            return None  # non-minimal sub-identifier
        value = (value << 7) | (octet & 0x7F)
        fresh = not octet & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    if not arcs or not fresh:
        return None
    first = arcs[0]
    head = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def _fast_parse(der: bytes) -> TimeStampRequest | None:
    end = len(der)
    outer = _header(der, 0, end)
    if outer is None or outer[0] != 0x30 or outer[2] != end:
        return None
    pos = outer[1]
    if der[pos : pos + 3] != b"\x02\x01\x01":
        return None
    imprint = _header(der, pos + 3, end)
    if imprint is None or imprint[0] != 0x30:
        return None
    alg = _header(der, imprint[1], imprint[2])
    if alg is None or alg[0] != 0x30:
        return None
    known = _IMPRINT_ALGS.get(der[imprint[1] : alg[2]])
    if known is None:
        return None
    name, size, null = known
    octets = _header(der, alg[2], imprint[2])
    if (
        octets is None
        or octets[0] != 0x04
        or octets[2] != imprint[2]
        or octets[2] - octets[1] != size
    ):
        return None
    digest = der[octets[1] : octets[2]]
    pos = imprint[2]
    policy = nonce = None
    cert_req = False
    if pos < end and der[pos] == 0x06:
        field = _header(der, pos, end)
        if field is None:
            return None
        policy = _dotted(der[field[1] : field[2]])
        if policy is None:
            return None
        pos = field[2]
    if pos < end and der[pos] == 0x02:
        field = _header(der, pos, end)
        if field is None:
            return None
        start, stop = field[1], field[2]
        if not 0 < stop - start <= MAX_NONCE_OCTETS or der[start] & 0x80:
            return None  # empty, too long or negative
        if stop - start > 1 and der[start] == 0 and not der[start + 1] & 0x80:
            return None  # non-minimal
        nonce = int.from_bytes(der[start:stop], "big")
        pos = stop
    if der[pos:end] == b"\x01\x01\xff":
        cert_req = True
        pos = end
    if pos != end:
        return None
    return TimeStampRequest(name, digest, policy, nonce, cert_req, null)


def _parse(der: bytes) -> TimeStampRequest:
    try:
        req = tsp.TimeStampReq.load(der, strict=True)
        version = req["version"]
    except ValueError:
        raise Rejection(FailInfo.BAD_DATA_FORMAT, "not a DER TimeStampReq") from None
    if int(version) != 1:
        raise Rejection(FailInfo.BAD_DATA_FORMAT, "unsupported request version")

    imprint = req["message_imprint"]
    algorithm = imprint["hash_algorithm"]
    known = HASH_ALGORITHMS.get(algorithm["algorithm"].dotted)
    if known is None:
        raise Rejection(FailInfo.BAD_ALG, "unsupported message imprint algorithm")
    # The raw bytes after the OID: asn1crypto would fail on non-NULL parameters of a hash.
    params = algorithm.contents[len(algorithm["algorithm"].dump()) :]
    if params not in (b"", _NULL):
        raise Rejection(FailInfo.BAD_ALG, "hash algorithm parameters must be absent or NULL")
    name, size = known
    digest = imprint["hashed_message"].native
    if not isinstance(digest, bytes) or len(digest) != size:
        raise Rejection(FailInfo.BAD_DATA_FORMAT, f"{name} imprint must be {size} bytes")

    if not isinstance(req["extensions"], core.Void):
        raise Rejection(FailInfo.UNACCEPTED_EXTENSION, "request extensions not supported")

    policy_field = req["req_policy"]
    policy = None if isinstance(policy_field, core.Void) else policy_field.dotted

    nonce_field = req["nonce"]
    nonce = None
    if not isinstance(nonce_field, core.Void):
        if len(nonce_field.contents) > MAX_NONCE_OCTETS:
            raise Rejection(FailInfo.BAD_DATA_FORMAT, f"nonce longer than {MAX_NONCE_OCTETS} bytes")
        nonce = int(nonce_field)
        if nonce < 0:
            raise Rejection(FailInfo.BAD_DATA_FORMAT, "negative nonce")

    cert_req = req["cert_req"].native
    if not isinstance(cert_req, bool):
        raise Rejection(FailInfo.BAD_DATA_FORMAT, "certReq is not a BOOLEAN")
    return TimeStampRequest(
        hash_algorithm=name,
        digest=digest,
        policy=policy,
        nonce=nonce,
        cert_req=cert_req,
        null_parameters=params == _NULL,
    )
