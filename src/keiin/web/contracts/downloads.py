"""Serving contract files: streamed from the blob store, never read into memory whole.

A download is a copy (副本); the original stays in Keiin (seed 13(3)). Every download is
audited. Inline views may be framed by Keiin's own pages only (the contract page embeds the
browser's PDF viewer); downloads are attachments.
"""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest

from keiin.blobs import BlobNotFoundError
from keiin.web.contracts import services
from keiin.web.contracts.files import blob_store
from keiin.web.contracts.models import Contract, ContractVersion
from keiin.web.partners.addresses import client_address


def file_name(contract: Contract, version: ContractVersion) -> str:
    """``<reference>.pdf`` for the newest version, ``<reference>-v<n>.pdf`` otherwise."""
    latest = contract.latest_version()
    if latest is not None and latest.pk == version.pk:
        return f"{contract.reference}.pdf"
    return f"{contract.reference}-v{version.number}.pdf"


def pdf_response(
    request: HttpRequest,
    contract: Contract,
    version: ContractVersion,
    *,
    attachment: bool,
    actor: str,
) -> FileResponse:
    """The version's file; a download (``attachment``) is audited."""
    try:
        stream = blob_store().open(version.sha256)
    except BlobNotFoundError:  # the integrity job reports it; the person gets a clear answer
        raise Http404("the file is missing from the store") from None
    response = FileResponse(
        stream,
        as_attachment=attachment,
        filename=file_name(contract, version),
        content_type="application/pdf",
    )
    response["Content-Length"] = str(version.size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["X-Keiin-SHA256"] = version.sha256
    if attachment:
        services.record_download(contract, version, actor=actor, ip=client_address(request))
    else:
        response["X-Frame-Options"] = "SAMEORIGIN"
    return response
