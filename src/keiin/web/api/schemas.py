"""What the API accepts and answers (pydantic models via ninja; they make the OpenAPI document).

Inputs are bounded so that nothing reaches the database that it would refuse with an error
(text without NUL characters, amounts below 10¹⁵, IDs within 64 bits); blank form values count
as absent.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import Schema
from pydantic import AfterValidator, Field, field_validator

from keiin.web.contracts.models import Contract, ContractSigner, ContractVersion
from keiin.web.contracts.services import MAX_SIGNATORIES

MAX_ID = 2**63 - 1
MAX_AMOUNT = 10**15 - 1  # the amount column holds 15 digits
MAX_OFFSET = 10**9


def _printable(value: str) -> str:
    if any((ord(c) < 32 and c not in "\t\n\r") or c == "\x7f" for c in value):
        raise ValueError("control characters are not allowed")
    return value


Text = Annotated[str, AfterValidator(_printable)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Amount = Annotated[int, Field(ge=0, le=MAX_AMOUNT)]
StatusName = Literal[tuple(Contract.Status.values)]  # type: ignore[valid-type]


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class ErrorOut(Schema):
    """Every refusal: a reason (a text, or a list of field errors for 422)."""

    detail: Any


class ContractIn(Schema):
    """The form fields of ``POST /contracts`` (multipart, next to the PDF ``file``)."""

    title: Annotated[Text, Field(min_length=1, max_length=200)]
    partner_id: Id
    signatories: Annotated[
        list[Id],
        Field(
            min_length=1,
            max_length=MAX_SIGNATORIES,
            description="Signatory user IDs in signing order (repeat the field).",
        ),
    ]
    contract_date: dt.date
    amount: Amount | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    sign_by: dt.datetime | None = Field(
        None, description="ISO 8601; without an offset it is Japan time. Default: 14 days."
    )
    retention_until: dt.date | None = Field(
        None, description="Default: 10 years after the end date (or the contract date)."
    )
    allow_signed: bool = False
    note: Annotated[Text, Field(max_length=2000)] = ""

    _blanks = field_validator(
        "amount", "starts_on", "ends_on", "sign_by", "retention_until", mode="before"
    )(_blank_is_none)

    @field_validator("sign_by")
    @classmethod
    def _in_utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        """Japan time when no offset is given; stored as UTC (PostgreSQL refuses offsets
        beyond ±15:59, and a date-time at the calendar's end may not exist in UTC)."""
        if value is None:
            return None
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("the date-time is out of range") from None


class ContractQuery(Schema):
    """``GET /contracts``: search by the Electronic Books Preservation Act's keys, paged."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    amount_min: Amount | None = None
    amount_max: Amount | None = None
    counterparty: Annotated[Text, Field(max_length=200)] | None = None
    q: Annotated[Text, Field(max_length=200, description="In the title or reference.")] | None = (
        None
    )
    status: StatusName | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET)] = 0

    _blanks = field_validator(
        "date_from", "date_to", "amount_min", "amount_max", "status", mode="before"
    )(_blank_is_none)


class DocumentQuery(Schema):
    """``GET /contracts/{public_id}/document``."""

    version: int | None = Field(None, ge=0, le=1_000_000, description="Default: the newest.")

    _blanks = field_validator("version", mode="before")(_blank_is_none)


class CancelIn(Schema):
    """``POST /contracts/{public_id}/cancel``."""

    reason: Annotated[Text, Field(min_length=1, max_length=2000)]


class PartnerOut(Schema):
    id: int
    name_ja: str
    name_en: str


class SignatoryOut(Schema):
    position: int
    user_id: int
    name: str
    status: str
    notified_at: dt.datetime | None
    viewed_at: dt.datetime | None
    signed_at: dt.datetime | None
    decline_reason: str


class VersionOut(Schema):
    number: int
    kind: str
    sha256: str
    size: int
    created_at: dt.datetime
    validation: str
    validated_at: dt.datetime | None


class ContractSummary(Schema):
    public_id: str
    reference: str
    title: str
    status: str
    partner: PartnerOut
    contract_date: dt.date
    amount: int | None
    starts_on: dt.date | None
    ends_on: dt.date | None
    sign_by: dt.datetime
    created_at: dt.datetime
    closed_at: dt.datetime | None


class ContractDetail(ContractSummary):
    retention_until: dt.date
    registered_at: dt.datetime | None
    close_reason: str
    allow_signed: bool
    original_sha256: str = Field(description="SHA-256 of the original; empty until completed.")
    signatories: list[SignatoryOut]
    versions: list[VersionOut]


class ContractPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ContractSummary]


def summary(contract: Contract) -> dict[str, Any]:
    """The list fields of ``contract`` (its partner loaded)."""
    partner = contract.partner
    return {
        "public_id": contract.public_id,
        "reference": contract.reference,
        "title": contract.title,
        "status": contract.status,
        "partner": {"id": partner.pk, "name_ja": partner.name_ja, "name_en": partner.name_en},
        "contract_date": contract.contract_date,
        "amount": None if contract.amount is None else int(contract.amount),
        "starts_on": contract.starts_on,
        "ends_on": contract.ends_on,
        "sign_by": contract.sign_by,
        "created_at": contract.created_at,
        "closed_at": contract.closed_at,
    }


def _signatory(signer: ContractSigner) -> dict[str, Any]:
    return {
        "position": signer.position,
        "user_id": signer.user_id,
        "name": signer.user.display_name or signer.user.login_id,
        "status": signer.status,
        "notified_at": signer.notified_at,
        "viewed_at": signer.viewed_at,
        "signed_at": signer.signed_at,
        "decline_reason": signer.decline_reason,
    }


def _version(version: ContractVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "kind": version.kind,
        "sha256": version.sha256,
        "size": version.size,
        "created_at": version.created_at,
        "validation": version.validation,
        "validated_at": version.validated_at,
    }


def detail(contract: Contract) -> dict[str, Any]:
    """Everything the API tells about ``contract``: status, signatories, versions."""
    signers = contract.signers.select_related("user").order_by("position")
    return {
        **summary(contract),
        "retention_until": contract.retention_until,
        "registered_at": contract.registered_at,
        "close_reason": contract.close_reason,
        "allow_signed": contract.allow_signed,
        "original_sha256": contract.original_sha256,
        "signatories": [_signatory(s) for s in signers],
        "versions": [_version(v) for v in contract.versions.order_by("number")],
    }
