"""The contract endpoints: create (multipart upload), search, status, download, cancel.

A key limited to some partners reaches only their contracts: anything else answers 404 with
the same body as a contract that does not exist. Every change goes through
:mod:`keiin.web.contracts.services` acting as the key's owner, and is audited once more with the
key as the actor (``api:<key name>``), so the log shows which system did it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest
from ninja import File, Form, Query, Router
from ninja.files import UploadedFile

from keiin.web.accounts.models import Role, User
from keiin.web.api import keys
from keiin.web.api.auth import api_key
from keiin.web.api.errors import NOT_FOUND, ApiError
from keiin.web.api.models import ApiKey
from keiin.web.api.schemas import (
    CancelIn,
    ContractDetail,
    ContractIn,
    ContractPage,
    ContractQuery,
    DocumentQuery,
    ErrorOut,
    detail,
    summary,
)
from keiin.web.audit.log import record
from keiin.web.contracts import downloads, services
from keiin.web.contracts.files import UploadError
from keiin.web.contracts.models import Contract
from keiin.web.contracts.search import search
from keiin.web.partners.models import Partner

try:
    from ninja import Status
except ImportError:  # django-ninja < 1.7: a (status, body) tuple means the same

    def Status(status_code: int, value: Any) -> Any:  # type: ignore[no-redef]  # noqa: N802
        return (status_code, value)


router = Router(tags=["contracts"])

_PUBLIC_ID = re.compile(r"[0-9a-f]{32}")
_ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}


def scoped_contracts(key: ApiKey) -> QuerySet[Contract]:
    """The contracts ``key`` may see: all, or its partners' only."""
    contracts = Contract.objects.select_related("partner")
    scope = keys.partner_scope(key)
    return contracts if scope is None else contracts.filter(partner_id__in=scope)


def _contract(key: ApiKey, public_id: str) -> Contract:
    if not _PUBLIC_ID.fullmatch(public_id):
        raise ApiError(404, NOT_FOUND)
    contract = scoped_contracts(key).filter(public_id=public_id).first()
    if contract is None:
        raise ApiError(404, NOT_FOUND)
    return contract


def _audit(key: ApiKey, action: str, contract: Contract) -> None:
    record(
        action,
        actor=key.actor,
        target=f"contract:{contract.public_id}",
        data={"key": key.prefix, "as": key.owner.login_id},
    )


def _terms(key: ApiKey, payload: ContractIn) -> services.ContractTerms:
    scope = keys.partner_scope(key)
    partner = Partner.objects.filter(pk=payload.partner_id).first()
    if partner is None or (scope is not None and partner.pk not in scope):
        raise ApiError(422, "unknown partner")
    people = {
        user.pk: user
        for user in User.objects.filter(
            pk__in=payload.signatories, partner=partner, role=Role.SIGNATORY
        ).select_related("partner")
    }
    strangers = [pk for pk in payload.signatories if pk not in people]
    if strangers:
        raise ApiError(
            422, "not signatories of this partner: " + ", ".join(str(pk) for pk in strangers)
        )
    return services.ContractTerms(
        title=payload.title,
        partner=partner,
        signatories=[people[pk] for pk in payload.signatories],
        contract_date=payload.contract_date,
        amount=None if payload.amount is None else Decimal(payload.amount),
        starts_on=payload.starts_on,
        ends_on=payload.ends_on,
        sign_by=payload.sign_by,
        retention_until=payload.retention_until,
        note=payload.note,
    )


@router.post(
    "/contracts",
    response={201: ContractDetail, 403: ErrorOut, **_ERRORS},
    summary="Create a contract from a PDF (a draft, sealed later in the console)",
)
def create_contract(
    request: HttpRequest, file: File[UploadedFile], payload: Form[ContractIn]
) -> Any:
    """Register a draft contract: multipart/form-data with the PDF as ``file``."""
    key = api_key(request)
    if not keys.may_create(key.owner):
        raise ApiError(403, "only a contract manager's key can create contracts")
    try:
        terms = _terms(key, payload)
        with file.open("rb") as stream:
            contract = services.create_contract(
                terms,
                stream,
                creator=key.owner,
                allow_signed=payload.allow_signed,
                actor=key.actor,
            )
    except (services.ContractError, UploadError) as exc:
        raise ApiError(422, str(exc)) from None
    except (ValueError, OverflowError):  # e.g. a retention date past the year 9999
        raise ApiError(422, "a date is out of range") from None
    _audit(key, "api.contract.created", contract)
    return Status(201, detail(contract))


@router.get("/contracts", response={200: ContractPage, **_ERRORS}, summary="Search contracts")
def list_contracts(request: HttpRequest, filters: Query[ContractQuery]) -> dict:
    """Contracts by contract date, amount, counterparty, title/reference and status; newest
    contract date first."""
    key = api_key(request)
    criteria = filters.dict()
    first, last = criteria["date_from"], criteria["date_to"]
    if first and last and last < first:
        raise ApiError(422, "date_to is before date_from")
    low, high = criteria["amount_min"], criteria["amount_max"]
    if low is not None and high is not None and high < low:
        raise ApiError(422, "amount_max is below amount_min")
    contracts = search(scoped_contracts(key), criteria)
    limit, offset = filters.limit, filters.offset
    return {
        "count": contracts.count(),
        "limit": limit,
        "offset": offset,
        "items": [summary(c) for c in contracts[offset : offset + limit]],
    }


@router.get(
    "/contracts/{public_id}",
    response={200: ContractDetail, **_ERRORS},
    summary="A contract: status, signatories, versions",
)
def get_contract(request: HttpRequest, public_id: str) -> dict:
    """The contract's status, its signatories in order and every version of its file."""
    return detail(_contract(api_key(request), public_id))


@router.get(
    "/contracts/{public_id}/document",
    response={200: None, **_ERRORS},
    summary="Download the PDF (a copy; audited)",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The PDF; header X-Keiin-SHA256 gives its SHA-256.",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def download(request: HttpRequest, public_id: str, query: Query[DocumentQuery]) -> FileResponse:
    """The newest version (the original once completed) or ``?version=N``, as an attachment."""
    key = api_key(request)
    contract = _contract(key, public_id)
    versions = contract.versions.order_by("-number")
    if query.version is not None:
        versions = versions.filter(number=query.version)
    version = versions.first()
    if version is None:
        raise ApiError(404, "no such version")
    return downloads.pdf_response(request, contract, version, attachment=True, actor=key.actor)


@router.post(
    "/contracts/{public_id}/cancel",
    response={200: ContractDetail, 409: ErrorOut, **_ERRORS},
    summary="Cancel a contract that is not closed yet",
)
def cancel_contract(request: HttpRequest, public_id: str, payload: CancelIn) -> dict:
    """Cancel with a reason (JSON ``{"reason": "…"}``); 409 if it cannot be cancelled now."""
    key = api_key(request)
    contract = _contract(key, public_id)
    reason = payload.reason.strip()
    if not reason:
        raise ApiError(422, "a reason is required")
    try:
        services.cancel(contract, key.owner, reason, actor=key.actor)
    except services.ContractError as exc:
        raise ApiError(409, str(exc)) from None
    _audit(key, "api.contract.cancelled", contract)
    return detail(_contract(key, public_id))
