"""PAdES signing: the operator's certification signature and the signatories' approvals.

Every step is an incremental update of the previous bytes, never a rewrite:

* :func:`certify_file`: certification signature with DocMDP (default: form filling and further
  signatures allowed), with a signature timestamp (B-T); with a revocation source, also a DSS
  with revocation data fetched after that timestamp (B-LT). The empty signature fields of the
  signatories are placed in the same revision: after a certification, validators (pyHanko's
  default diff policy, Acrobat) only accept *filling* existing visible signature fields, not
  adding new ones.
* :func:`approve_file`: approval signature with a timestamp (B-T) → DSS with revocation data
  for every certificate of every signature and timestamp in the file, fetched now, i.e. after
  the timestamp (B-LT) → document timestamp over all of it (B-LTA).

**Files, not bytes.** The ``*_file`` functions read the input from a path or a seekable binary
stream and write the signed PDF to a path or a stream. The input is copied once into the
output (or a work file), and every step then *appends* its update to that one file in place
(pyHanko's ``in_place=True``), in chunks of at most 1 MiB: memory stays flat whatever
the size of the PDF, and no intermediate version is ever held or copied again.
:func:`certify` and :func:`approve` (and their ``async_`` forms) are the same operations on
``bytes``, as thin wrappers.

**The input is hashed once.** Every ``/ByteRange`` of these steps starts at offset 0 and covers
the whole input (the updates are appended after it). The copy hashes the input on the way
(:class:`_DocumentPrefix`), and each signature's and document timestamp's digest resumes
from a copy of that SHA-256 state, reading only the bytes appended since
(:class:`_PrefixDigestEmbedding`, in place of pyHanko's own full pass over the file).

The sync functions run the async ones with :func:`asyncio.run`; from async code call the
``async_`` forms. All of them do blocking file I/O; from an event loop that must stay
responsive, run them in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.attributes import (
    CMSAttributeProvider,
    SignedAttributeProviderSpec,
    SigningCertificateV2Provider,
)
from pyhanko.sign.fields import (
    InvisSigSettings,
    MDPPerm,
    SigFieldSpec,
    SigSeedSubFilter,
    append_signature_field,
)
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, PdfTimeStamper, Signer
from pyhanko.sign.signers.cms_embedder import PdfCMSEmbedder, SigIOSetup, SigObjSetup
from pyhanko.sign.signers.constants import ESIC_EXTENSION_1
from pyhanko.sign.signers.pdf_byterange import (
    DocumentTimestamp,
    PdfByteRangeDigest,
    PreparedByteRangeDigest,
)
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko.sign.validation import DocumentSecurityStore

from keiin.pdf.errors import PdfInputError, PdfSigningError
from keiin.pdf.inputs import as_stream, open_for_update
from keiin.pdf.revinfo import CollectedRevocationInfo, RevocationSource, collect, wait_until
from keiin.pdf.stamp import DEFAULT_BOX, VisibleStamp

#: Digest for signatures and timestamps.
MD_ALGORITHM = "sha256"
#: Bytes per read when digesting the byte ranges and copying to a write-only target
#: (pyHanko: 4 KiB).
IO_CHUNK_SIZE = 1 << 20
#: Bytes per read when copying and hashing the input: as fast as 1 MiB here (SHA-256 sets the
#: pace) and a smaller peak for small files.
COPY_CHUNK_SIZE = 1 << 18
#: The ``readable_field_name`` pyHanko's :class:`PdfTimeStamper` gives document timestamp fields.
_TIMESTAMP_FIELD_LABEL = "Timestamp"

#: Where a PDF is read from: a path, or a seekable binary stream holding it from offset 0.
PdfSource = str | os.PathLike[str] | BinaryIO
#: Where a signed PDF goes: a path (replaced atomically), or a writable binary stream.
PdfTarget = str | os.PathLike[str] | BinaryIO


@dataclass(frozen=True)
class SignatureDetails:
    """Optional descriptive entries of the signature dictionary."""

    reason: str | None = None
    location: str | None = None
    contact_info: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class SignatureField:
    """An empty signature field to place for a later signatory: name, page (0-based, -1 for
    the last page) and rectangle (x1, y1, x2, y2) in PDF points."""

    name: str
    page: int = 0
    box: tuple[int, int, int, int] = DEFAULT_BOX

    def spec(self) -> SigFieldSpec:
        """The pyHanko field specification."""
        return SigFieldSpec(self.name, on_page=self.page, box=self.box)


# --------------------------------------------------------------------------- files


def _is_path(target: object) -> bool:
    return isinstance(target, str | os.PathLike)


def _random_access(stream: BinaryIO) -> bool:
    """Whether ``stream`` can be read, written and sought (pyHanko's ``in_place`` needs all)."""
    try:
        return stream.readable() and stream.writable() and stream.seekable()
    except (AttributeError, ValueError):
        return False


class _HashState(Protocol):
    """A running :mod:`hashlib` digest (what ``hashlib.new(name)`` returns)."""

    @property
    def name(self) -> str:
        """The algorithm's name, e.g. ``"sha256"``."""
        ...

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        """Feed ``data``."""
        ...

    def copy(self) -> _HashState:
        """An independent copy of the state."""
        ...

    def digest(self) -> bytes:
        """The digest of everything fed so far."""
        ...


def _read_into(stream: BinaryIO, view: memoryview) -> int:
    """Read up to ``len(view)`` bytes of ``stream`` into ``view``; 0 at the end."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return readinto(view) or 0
    data = stream.read(len(view))
    view[: len(data)] = data
    return len(data)


def _write_all(stream: BinaryIO, data: memoryview) -> None:
    """Write all of ``data`` (a raw stream may take it in parts)."""
    while data:
        written = stream.write(data)
        if written is None:  # a non-blocking raw stream that cannot take any now
            raise OSError("the destination stream did not accept the data")
        data = data[written:]


def _hash_span(stream: BinaryIO, md: _HashState, start: int, end: int) -> None:
    """Feed bytes ``start`` to ``end`` of ``stream`` to ``md``, in :data:`IO_CHUNK_SIZE` reads."""
    stream.seek(start)
    buffer = memoryview(bytearray(min(IO_CHUNK_SIZE, max(end - start, 1))))
    left = end - start
    while left > 0:
        count = _read_into(stream, buffer[: min(left, len(buffer))])
        if count == 0:
            raise PdfSigningError("the work file ended inside a signed byte range")
        md.update(buffer[:count])
        left -= count


@dataclass(frozen=True)
class _DocumentPrefix:
    """The :data:`MD_ALGORITHM` state over the first ``length`` bytes of the work file
    ``stream``: the input document, hashed while it was copied there.

    Every step only *appends* to the work file, and every ``/ByteRange`` starts at offset 0,
    so each signature's or document timestamp's digest is this state (copied) fed with the
    rest of its ranges, which lie in what was appended since: the input is hashed once, not
    once per step.
    """

    stream: BinaryIO
    state: _HashState
    length: int

    @classmethod
    def empty(cls, stream: BinaryIO) -> _DocumentPrefix:
        """No prefix: digests then read all of their ranges from ``stream``."""
        return cls(stream, hashlib.new(MD_ALGORITHM), 0)

    def byte_range_digest(self, sig_start: int, sig_end: int, eof: int) -> bytes:
        """The digest of ``stream`` over ``/ByteRange [0 sig_start sig_end eof-sig_end]``,
        reading only the bytes from :attr:`length` on."""
        if not self.length <= sig_start <= sig_end <= eof:
            raise PdfSigningError(
                f"signature contents at {sig_start}-{sig_end} overlap the hashed input "
                f"(0-{self.length}): the work file was not only appended to"
            )
        md = self.state.copy()
        _hash_span(self.stream, md, self.length, sig_start)
        _hash_span(self.stream, md, sig_end, eof)
        return md.digest()


def _copy_and_hash(source: BinaryIO, target: BinaryIO) -> _DocumentPrefix:
    """Copy all of ``source`` (from offset 0) to the empty ``target``, hashing the bytes on the
    way; ``target`` is left at its end.

    One pass through user space in :data:`COPY_CHUNK_SIZE` chunks: reading the input from the
    page cache costs little next to hashing it, and the bytes hashed are exactly the bytes
    written (an in-kernel ``copy_file_range`` plus a second read of the source could differ if
    the source changed in between).
    """
    if target.tell() != 0:
        raise ValueError("the work file must start empty")
    source.seek(0)
    md = hashlib.new(MD_ALGORITHM)
    buffer = memoryview(bytearray(COPY_CHUNK_SIZE))
    length = 0
    while count := _read_into(source, buffer):
        chunk = buffer[:count]
        md.update(chunk)
        _write_all(target, chunk)
        length += count
    return _DocumentPrefix(target, md, length)


@contextlib.contextmanager
def _opened_source(src: PdfSource) -> Iterator[BinaryIO]:
    if _is_path(src):
        with open(src, "rb") as stream:
            yield stream
    else:
        yield as_stream(src)


@contextlib.contextmanager
def _workspace(
    src: PdfSource, dst: PdfTarget, tmp_dir: str | os.PathLike[str] | None
) -> Iterator[_DocumentPrefix]:
    """A read/write stream holding a copy of ``src`` (the prefix's ``stream``, hashed while
    copied), for the steps to append to in place; when the block succeeds its content is what
    ``dst`` holds.

    * ``dst`` a path: a partial file next to it, renamed over ``dst`` at the end (atomic; on
      failure ``dst`` is untouched and the partial file removed). Not fsynced. A new file is
      created with mode 0600; a replaced one keeps its mode.
    * ``dst`` a readable, writable, seekable stream (``open(p, "w+b")``, a temporary file,
      ``BytesIO``): used directly, from offset 0 (truncated first; emptied again on failure).
    * any other writable stream: a temporary file in ``tmp_dir``, copied to ``dst`` at the end.
    """
    with _opened_source(src) as source:
        if _is_path(dst):
            target = Path(dst)
            fd, partial = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".partial", dir=target.parent
            )
            try:
                with os.fdopen(fd, "w+b") as work:
                    yield _copy_and_hash(source, work)
                # A new file stays private (0600); a replaced one keeps its mode.
                if target.exists():
                    shutil.copymode(target, partial)
                os.replace(partial, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(partial)
                raise
        elif _random_access(dst):
            if dst is source:
                raise ValueError("src and dst must be different streams")
            dst.seek(0)
            dst.truncate()
            try:
                yield _copy_and_hash(source, dst)
            except BaseException:
                dst.seek(0)
                dst.truncate()
                raise
            dst.seek(0, os.SEEK_END)
        else:
            with tempfile.TemporaryFile(dir=tmp_dir) as work:
                yield _copy_and_hash(source, work)
                work.seek(0)
                shutil.copyfileobj(work, dst, IO_CHUNK_SIZE)


def _size(stream: BinaryIO) -> int:
    return stream.seek(0, os.SEEK_END)


# --------------------------------------------------------------------------- steps


class _PreEncodedSigningCertificateV2(SigningCertificateV2Provider):
    """pyHanko's signingCertificateV2 attribute, with its value re-loaded from its DER.

    asn1crypto treats a value built from Python objects whose ESSCertIDv2 leaves the DEFAULT
    hash algorithm out as changed forever: every ``dump()`` of anything containing it
    re-encodes it, and pyHanko dumps the signed attributes many times while assembling the
    CMS (about 25 ms per CMS here, twice per signature with the size estimate). A loaded
    value is encoded once; the bytes are the same.
    """

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        """The same value as pyHanko's, as a parsed DER value."""
        value = await super().build_attr_value(dry_run=dry_run)
        return tsp.SigningCertificateV2.load(value.dump())


class _PadesSignedAttributes(SignedAttributeProviderSpec):
    """The signed attributes pyHanko gives a PAdES signature made with :func:`_meta`'s
    settings (signingCertificateV2; PAdES leaves signingTime out; no CAdES extras), with the
    value pre-encoded. pyHanko adds contentType and messageDigest itself."""

    def __init__(self, signing_cert: asn1_x509.Certificate) -> None:
        self.signing_cert = signing_cert

    def signed_attr_providers(
        self, data_digest: bytes, digest_algorithm: str
    ) -> Iterator[CMSAttributeProvider]:
        """The signingCertificateV2 provider."""
        yield _PreEncodedSigningCertificateV2(signing_cert=self.signing_cert)


@contextlib.contextmanager
def _pre_encoded_attributes(signer: Signer) -> Iterator[None]:
    """Let ``signer`` use :class:`_PadesSignedAttributes` for the block (unless it has its own
    attribute spec), then restore it."""
    if signer.signed_attr_prov_spec is not None or signer.signing_cert is None:
        yield
        return
    signer.signed_attr_prov_spec = _PadesSignedAttributes(signer.signing_cert)
    try:
        yield
    finally:
        signer.signed_attr_prov_spec = None


class _PrefixDigestEmbedding:
    """pyHanko's :meth:`PdfCMSEmbedder.write_cms` coroutine, with the ``/ByteRange`` digest
    resumed from a :class:`_DocumentPrefix` instead of computed over the whole file.

    The coroutine's documented protocol: ``send(None)`` gives the field reference,
    ``send(SigObjSetup)`` the signature dictionary's reference, ``send(SigIOSetup)`` writes the
    update and gives ``(PreparedByteRangeDigest, output)``, ``send(cms)`` embeds the CMS and
    gives the ``/Contents`` value. The first two go to pyHanko unchanged (this object
    remembers the placeholder). The last two are pyHanko's ``PdfByteRangeDigest.fill``, done
    here with the same calls: append the update in place, fill in the ``/ByteRange`` array
    (pyHanko's placeholder objects: ``contents.offsets``, ``byte_range.fill_offsets``),
    digest, and later :meth:`PreparedByteRangeDigest.fill_with_cms`; only the digest differs
    (it reads just the bytes after the prefix).

    Anything this shortcut does not cover goes to pyHanko's own ``fill``: a writer that is not
    appending in place to the prefix's stream, an encrypted one (pyHanko's PDF MAC handling;
    Keiin refuses encrypted input anyway), another digest algorithm.

    Relies on pyHanko internals that have kept this shape since 0.7 (2021): the placeholder
    attributes above, ``PdfSigningSession.cms_writer``, the coroutine protocol. The one later
    addition to ``fill``, the PDF MAC flag ``digest_aware_write``, is set here too.
    ``tests/unit/pdf/test_streaming_digest.py`` checks each digest against an independent
    hash of its byte range, and that pyHanko's own pass is never reached.
    """

    def __init__(
        self, coroutine: Any, writer: IncrementalPdfFileWriter, prefix: _DocumentPrefix
    ) -> None:
        """Wrap ``coroutine`` (from ``write_cms`` for ``writer``)."""
        self._coroutine = coroutine
        self._writer = writer
        self._prefix = prefix
        self._placeholder: PdfByteRangeDigest | None = None
        self._prepared: tuple[PreparedByteRangeDigest, BinaryIO] | None = None

    def send(self, value: object) -> Any:
        """The next step of the protocol (see the class docstring)."""
        if self._prepared is not None:  # step 4: the CMS
            prepared, output = self._prepared
            self._prepared = None
            if not isinstance(value, bytes | cms.ContentInfo):
                raise TypeError(f"expected the CMS to embed, got {type(value).__name__}")
            return prepared.fill_with_cms(output, value)
        if isinstance(value, SigObjSetup):  # step 2
            self._placeholder = value.sig_placeholder
        elif isinstance(value, SigIOSetup) and self._resumable(value):  # step 3
            self._prepared = self._write_and_digest()
            self._coroutine.close()  # its fill never runs
            return self._prepared
        return self._coroutine.send(value)

    def _resumable(self, io_setup: SigIOSetup) -> bool:
        writer = self._writer
        return (
            io_setup.in_place
            and isinstance(self._placeholder, PdfByteRangeDigest)
            and writer.prev.stream is self._prefix.stream
            and writer.security_handler is None
            and io_setup.md_algorithm.lower() == self._prefix.state.name
        )

    def _write_and_digest(self) -> tuple[PreparedByteRangeDigest, BinaryIO]:
        placeholder = self._placeholder
        assert placeholder is not None
        writer = self._writer
        output = self._prefix.stream
        writer.digest_aware_write = True  # as pyHanko's fill (only matters for a PDF MAC)
        writer.write_in_place()
        eof = output.tell()
        sig_start, sig_end = placeholder.contents.offsets
        placeholder.byte_range.fill_offsets(output, sig_start, sig_end, eof)
        digest = self._prefix.byte_range_digest(sig_start, sig_end, eof)
        return (
            PreparedByteRangeDigest(
                document_digest=digest,
                reserved_region_start=sig_start,
                reserved_region_end=sig_end,
            ),
            output,
        )


def _meta(
    field_name: str, details: SignatureDetails, *, certify: bool, mdp: MDPPerm | None
) -> PdfSignatureMetadata:
    return PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=MD_ALGORITHM,
        subfilter=SigSeedSubFilter.PADES,
        certify=certify,
        docmdp_permissions=mdp if mdp is not None else MDPPerm.FILL_FORMS,
        reason=details.reason,
        location=details.location,
        contact_info=details.contact_info,
        name=details.name,
    )


async def _sign(
    writer: IncrementalPdfFileWriter,
    meta: PdfSignatureMetadata,
    signer: Signer,
    timestamper: TimeStamper,
    stamp: VisibleStamp | None,
    *,
    existing_field: bool,
    prefix: _DocumentPrefix,
) -> cms.SignedData:
    """Sign into the existing empty field ``meta.field_name``, or a new one (visible at the
    stamp's place if there is a stamp, else invisible); the update is appended in place to
    the writer's input stream (``prefix.stream``). Returns the signature's CMS SignedData.

    The steps are :meth:`PdfSigner.async_sign_pdf`'s, through pyHanko's staged signing API,
    so that the CMS is at hand afterwards without reading the file again, and so that the
    session's CMS embedding coroutine can be wrapped to digest from ``prefix``
    (:class:`_PrefixDigestEmbedding`).
    """
    field_name = meta.field_name
    assert field_name is not None
    field_spec = None
    if not existing_field:
        if stamp is not None:
            field_spec = SigFieldSpec(field_name, on_page=stamp.page, box=stamp.box)
        else:
            field_spec = SigFieldSpec(field_name)
    pdf_signer = PdfSigner(
        meta,
        signer,
        timestamper=timestamper,
        stamp_style=stamp.style() if stamp is not None else None,
        new_field_spec=field_spec,
    )
    params = stamp.text_params() if stamp is not None else None
    try:
        with _pre_encoded_attributes(signer):
            session = pdf_signer.init_signing_session(writer, existing_fields_only=existing_field)
            session.cms_writer = _PrefixDigestEmbedding(session.cms_writer, writer, prefix)
            validation_info = await session.perform_presign_validation(writer)
            bytes_reserved = await session.estimate_signature_container_size(
                validation_info, tight=meta.tight_size_estimates
            )
            tbs = session.prepare_tbs_document(
                validation_info=validation_info,
                bytes_reserved=bytes_reserved,
                appearance_text_params=params,
            )
            prepared, output = tbs.digest_tbs_document(in_place=True, chunk_size=IO_CHUNK_SIZE)
            signed = await tbs.perform_signature(
                prepared.document_digest,
                PdfCMSSignedAttributes(
                    signing_time=session.system_time,
                    adobe_revinfo_attr=(
                        None if validation_info is None else validation_info.adobe_revinfo_attr
                    ),
                    cades_signed_attrs=meta.cades_signed_attr_spec,
                ),
            )
            await signed.post_signature_processing(output, chunk_size=IO_CHUNK_SIZE)
    except TimestampRequestError as exc:
        raise PdfSigningError(f"the time-stamping authority failed: {exc}") from exc
    # /Contents holds the DER CMS followed by zero padding, which a lax load ignores.
    return cms.ContentInfo.load(signed.sig_contents)["content"]


def _certificates_in(signed_data: cms.SignedData) -> Iterator[asn1_x509.Certificate]:
    for choice in signed_data["certificates"] or ():
        if choice.name == "certificate":
            yield choice.chosen


def _timestamp_tokens(signed_data: cms.SignedData) -> Iterator[cms.SignedData]:
    for signer_info in signed_data["signer_infos"]:
        for attr in signer_info["unsigned_attrs"] or ():
            if attr["type"].native == "signature_time_stamp_token":
                for token in attr["values"]:
                    yield token["content"]


def _gen_time(token: cms.SignedData) -> dt.datetime:
    tst_info = token["encap_content_info"]["content"].parsed
    return tst_info["gen_time"].native


def _is_document_timestamp(signed_data: cms.SignedData) -> bool:
    return signed_data["encap_content_info"]["content_type"].native == "tst_info"


def certificates_of_signatures(
    signatures: Iterable[cms.SignedData],
) -> tuple[list[asn1_x509.Certificate], dt.datetime]:
    """Every certificate in ``signatures`` (CMS signatures and document timestamps) and in
    their signature timestamps, and the newest genTime of all those timestamps."""
    found: dict[bytes, asn1_x509.Certificate] = {}
    newest = dt.datetime.min.replace(tzinfo=dt.UTC)
    for signed_data in signatures:
        tokens = list(_timestamp_tokens(signed_data))
        if _is_document_timestamp(signed_data):
            tokens.append(signed_data)
        for token in tokens:
            newest = max(newest, _gen_time(token))
        for each in (signed_data, *tokens):
            for cert in _certificates_in(each):
                found.setdefault(cert.dump(), cert)
    return list(found.values()), newest


def certificates_of_document(
    pdf: bytes | BinaryIO,
) -> tuple[list[asn1_x509.Certificate], dt.datetime]:
    """:func:`certificates_of_signatures` of every signature and document timestamp in
    ``pdf`` (bytes or a seekable stream, read as needed)."""
    reader = PdfFileReader(as_stream(pdf), strict=False)
    return certificates_of_signatures(sig.signed_data for sig in reader.embedded_signatures)


async def add_revocation_info(
    work: BinaryIO,
    revinfo: RevocationSource,
    *,
    signatures: Sequence[cms.SignedData] | None = None,
) -> None:
    """Append to ``work`` (read/write/seekable) a DSS update with revocation data, fetched now,
    for every certificate in every signature and timestamp of it and every CA above them.

    ``signatures`` are all the signatures (CMS SignedData) in ``work`` if the caller has them
    at hand, else they are read from it.

    Waits until the second after the newest genTime has begun (see
    :func:`~keiin.pdf.revinfo.wait_until`): no wait at all when the TSA issues whole-second
    genTimes, as Keiin's own TSA does for signing.
    """
    if signatures is None:
        leaves, newest = certificates_of_document(work)
    else:
        leaves, newest = certificates_of_signatures(signatures)
    # OCSP/CRL times have whole seconds: wait for the second after the newest timestamp, so
    # the data is both after it (ETSI freshness) and not in the future (immediate validation).
    await wait_until(newest)
    collected: CollectedRevocationInfo = await asyncio.to_thread(
        collect, revinfo, leaves, not_before=newest
    )
    writer = IncrementalPdfFileWriter(work, strict=False)
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        sig_contents=None,
        certs=collected.certificates,
        ocsps=collected.ocsp_responses,
        crls=collected.crls,
    )
    writer.write_in_place()


async def add_document_timestamp(
    work: BinaryIO,
    timestamper: TimeStamper,
    field_name: str,
    *,
    prefix: _DocumentPrefix | None = None,
) -> None:
    """Append to ``work`` (read/write/seekable) a document timestamp covering all of it.

    What :meth:`PdfTimeStamper.async_timestamp_pdf` does without a validation context (the
    DSS is Keiin's step before), written out over pyHanko's :class:`PdfCMSEmbedder` so that
    the digest can resume from ``prefix`` (the hashed start of ``work``; default: none).
    """
    writer = IncrementalPdfFileWriter(work, strict=False)
    try:
        if writer.security_handler is not None:  # pyHanko's own path (PDF MAC and all)
            await PdfTimeStamper(timestamper, field_name=field_name).async_timestamp_pdf(
                writer, MD_ALGORITHM, in_place=True, chunk_size=IO_CHUNK_SIZE
            )
            return
        writer.ensure_output_version(version=(1, 7))
        if writer.output_version < (2, 0):
            writer.register_extension(ESIC_EXTENSION_1)
        dummy = await timestamper.async_dummy_response(MD_ALGORITHM)
        estimate = len(dummy.dump()) * 2  # hex; plus pyHanko's safety margin:
        placeholder = DocumentTimestamp(bytes_reserved=estimate + 2 * (estimate // 4))
        field_spec = SigFieldSpec(
            sig_field_name=field_name,
            invis_sig_settings=InvisSigSettings(),
            readable_field_name=_TIMESTAMP_FIELD_LABEL,
        )
        embedding = _PrefixDigestEmbedding(
            PdfCMSEmbedder(new_field_spec=field_spec).write_cms(
                field_name=field_name, writer=writer, existing_fields_only=False
            ),
            writer,
            prefix if prefix is not None else _DocumentPrefix.empty(work),
        )
        embedding.send(None)
        embedding.send(SigObjSetup(sig_placeholder=placeholder))
        prepared, _output = embedding.send(
            SigIOSetup(md_algorithm=MD_ALGORITHM, in_place=True, chunk_size=IO_CHUNK_SIZE)
        )
        token = await timestamper.async_timestamp(prepared.document_digest, MD_ALGORITHM)
        embedding.send(token)
    except TimestampRequestError as exc:
        raise PdfSigningError(f"the time-stamping authority failed: {exc}") from exc


async def _certify_in_place(
    prefix: _DocumentPrefix,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    field_name: str,
    revinfo: RevocationSource | None,
    mdp: MDPPerm,
    stamp: VisibleStamp | None,
    details: SignatureDetails | None,
    signature_fields: Sequence[SignatureField],
) -> None:
    """Certify the work file ``prefix.stream`` in place (see :func:`async_certify_file`)."""
    work = prefix.stream
    opened = open_for_update(work, allow_signed=False, field_name=field_name)
    for placement in signature_fields:
        if placement.name in opened.empty_fields:
            raise PdfInputError(f"the PDF already has a signature field named {placement.name!r}")
    for placement in signature_fields:
        append_signature_field(opened.writer, placement.spec())
    meta = _meta(field_name, details or SignatureDetails(), certify=True, mdp=mdp)
    signature = await _sign(
        opened.writer,
        meta,
        signer,
        timestamper,
        stamp,
        existing_field=field_name in opened.empty_fields,
        prefix=prefix,
    )
    if revinfo is not None:
        await add_revocation_info(work, revinfo, signatures=[signature])


async def _approve_in_place(
    prefix: _DocumentPrefix,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    revinfo: RevocationSource,
    field_name: str,
    stamp: VisibleStamp | None,
    timestamp_field_name: str | None,
    details: SignatureDetails | None,
) -> None:
    """Approve the work file ``prefix.stream`` in place, up to B-LTA (see
    :func:`async_approve_file`); both digests resume from ``prefix``."""
    work = prefix.stream
    opened = open_for_update(work, allow_signed=True, field_name=field_name)
    existing = field_name in opened.empty_fields
    if opened.certified and not existing:
        raise PdfInputError(
            f"the certified PDF has no empty signature field {field_name!r}; "
            "signature fields must be placed when the operator certifies"
        )
    meta = _meta(field_name, details or SignatureDetails(), certify=False, mdp=None)
    signature = await _sign(
        opened.writer, meta, signer, timestamper, stamp, existing_field=existing, prefix=prefix
    )
    earlier = [sig.signed_data for sig in opened.signatures]
    await add_revocation_info(work, revinfo, signatures=[*earlier, signature])
    await add_document_timestamp(
        work, timestamper, timestamp_field_name or f"{field_name}_DocTimeStamp", prefix=prefix
    )


# --------------------------------------------------------------------------- files API


async def async_certify_file(
    src: PdfSource,
    dst: PdfTarget,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    field_name: str,
    revinfo: RevocationSource | None = None,
    mdp: MDPPerm = MDPPerm.FILL_FORMS,
    stamp: VisibleStamp | None = None,
    details: SignatureDetails | None = None,
    signature_fields: Sequence[SignatureField] = (),
    tmp_dir: str | os.PathLike[str] | None = None,
) -> int:
    """The operator's certification signature (B-T; B-LT if ``revinfo`` is given), from the
    PDF at ``src`` to ``dst``; returns the size of the signed PDF in bytes.

    ``src`` is a path or a seekable binary stream with the PDF from offset 0; it is only read.
    ``dst`` is a path (written next to it, then renamed over it), a readable, writable,
    seekable stream (written from offset 0, in place), or another writable stream (then the
    work is done in a temporary file in ``tmp_dir``, default the system's, and copied to it).
    On failure a path ``dst`` is left as it was and a random-access one is emptied. A stream
    ``dst`` must not be the file ``src`` reads (a path may be: it is replaced at the end).

    ``src`` must not be signed yet (:class:`~keiin.pdf.errors.PdfInputError` otherwise).
    ``signature_fields`` are the empty fields the signatories will sign into, created in the
    same revision (see the module docstring).
    """
    names = [f.name for f in signature_fields]
    if len(set(names)) != len(names) or field_name in names:
        raise ValueError("signature field names must be unique")
    with _workspace(src, dst, tmp_dir) as prefix:
        await _certify_in_place(
            prefix,
            signer,
            timestamper=timestamper,
            field_name=field_name,
            revinfo=revinfo,
            mdp=mdp,
            stamp=stamp,
            details=details,
            signature_fields=signature_fields,
        )
        return _size(prefix.stream)


async def async_approve_file(
    src: PdfSource,
    dst: PdfTarget,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    revinfo: RevocationSource,
    field_name: str,
    stamp: VisibleStamp | None,
    timestamp_field_name: str | None = None,
    details: SignatureDetails | None = None,
    tmp_dir: str | os.PathLike[str] | None = None,
) -> int:
    """An approval signature made B-LTA, from the PDF at ``src`` to ``dst``: signature with
    timestamp → DSS → document timestamp. Returns the size of the signed PDF in bytes.

    ``src``, ``dst`` and ``tmp_dir`` as for :func:`async_certify_file`. ``src`` may carry
    earlier signatures (a certification allowing changes); their revocation data is
    refreshed in the same DSS update. The signature goes into the empty field ``field_name``
    if there is one (its place wins over ``stamp.page``/``stamp.box``). A certified document
    must have that field already (placed by :func:`certify_file`); otherwise a new field is
    created.
    """
    with _workspace(src, dst, tmp_dir) as prefix:
        await _approve_in_place(
            prefix,
            signer,
            timestamper=timestamper,
            revinfo=revinfo,
            field_name=field_name,
            stamp=stamp,
            timestamp_field_name=timestamp_field_name,
            details=details,
        )
        return _size(prefix.stream)


def certify_file(
    src: PdfSource,
    dst: PdfTarget,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    field_name: str,
    revinfo: RevocationSource | None = None,
    mdp: MDPPerm = MDPPerm.FILL_FORMS,
    stamp: VisibleStamp | None = None,
    details: SignatureDetails | None = None,
    signature_fields: Sequence[SignatureField] = (),
    tmp_dir: str | os.PathLike[str] | None = None,
) -> int:
    """Synchronous :func:`async_certify_file`."""
    return asyncio.run(
        async_certify_file(
            src,
            dst,
            signer,
            timestamper=timestamper,
            field_name=field_name,
            revinfo=revinfo,
            mdp=mdp,
            stamp=stamp,
            details=details,
            signature_fields=signature_fields,
            tmp_dir=tmp_dir,
        )
    )


def approve_file(
    src: PdfSource,
    dst: PdfTarget,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    revinfo: RevocationSource,
    field_name: str,
    stamp: VisibleStamp | None,
    timestamp_field_name: str | None = None,
    details: SignatureDetails | None = None,
    tmp_dir: str | os.PathLike[str] | None = None,
) -> int:
    """Synchronous :func:`async_approve_file`."""
    return asyncio.run(
        async_approve_file(
            src,
            dst,
            signer,
            timestamper=timestamper,
            revinfo=revinfo,
            field_name=field_name,
            stamp=stamp,
            timestamp_field_name=timestamp_field_name,
            details=details,
            tmp_dir=tmp_dir,
        )
    )


# --------------------------------------------------------------------------- bytes API


async def async_certify(
    pdf: bytes,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    field_name: str,
    revinfo: RevocationSource | None = None,
    mdp: MDPPerm = MDPPerm.FILL_FORMS,
    stamp: VisibleStamp | None = None,
    details: SignatureDetails | None = None,
    signature_fields: Sequence[SignatureField] = (),
) -> bytes:
    """:func:`async_certify_file` on bytes: the signed PDF as bytes (for small files; the
    input and the result are both held in memory)."""
    out = BytesIO()
    await async_certify_file(
        as_stream(pdf),
        out,
        signer,
        timestamper=timestamper,
        field_name=field_name,
        revinfo=revinfo,
        mdp=mdp,
        stamp=stamp,
        details=details,
        signature_fields=signature_fields,
    )
    return out.getvalue()


async def async_approve(
    pdf: bytes,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    revinfo: RevocationSource,
    field_name: str,
    stamp: VisibleStamp | None,
    timestamp_field_name: str | None = None,
    details: SignatureDetails | None = None,
) -> bytes:
    """:func:`async_approve_file` on bytes: the signed PDF as bytes (for small files; the
    input and the result are both held in memory)."""
    out = BytesIO()
    await async_approve_file(
        as_stream(pdf),
        out,
        signer,
        timestamper=timestamper,
        revinfo=revinfo,
        field_name=field_name,
        stamp=stamp,
        timestamp_field_name=timestamp_field_name,
        details=details,
    )
    return out.getvalue()


def certify(
    pdf: bytes,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    field_name: str,
    revinfo: RevocationSource | None = None,
    mdp: MDPPerm = MDPPerm.FILL_FORMS,
    stamp: VisibleStamp | None = None,
    details: SignatureDetails | None = None,
    signature_fields: Sequence[SignatureField] = (),
) -> bytes:
    """Synchronous :func:`async_certify`."""
    out = BytesIO()
    # The coroutine returns the size, not the bytes: Python 3.11's asyncio.run formats the
    # repr of the finished task (result included) when it restores the SIGINT handler.
    asyncio.run(
        async_certify_file(
            as_stream(pdf),
            out,
            signer,
            timestamper=timestamper,
            field_name=field_name,
            revinfo=revinfo,
            mdp=mdp,
            stamp=stamp,
            details=details,
            signature_fields=signature_fields,
        )
    )
    return out.getvalue()


def approve(
    pdf: bytes,
    signer: Signer,
    *,
    timestamper: TimeStamper,
    revinfo: RevocationSource,
    field_name: str,
    stamp: VisibleStamp | None,
    timestamp_field_name: str | None = None,
    details: SignatureDetails | None = None,
) -> bytes:
    """Synchronous :func:`async_approve`."""
    out = BytesIO()
    asyncio.run(  # the size, not the bytes (see certify)
        async_approve_file(
            as_stream(pdf),
            out,
            signer,
            timestamper=timestamper,
            revinfo=revinfo,
            field_name=field_name,
            stamp=stamp,
            timestamp_field_name=timestamp_field_name,
            details=details,
        )
    )
    return out.getvalue()
