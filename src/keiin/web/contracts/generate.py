"""Contracts generated from Keiin's template (:mod:`keiin.pdf.template`): Japanese text,
the parties, the amount and dates, and a signature area whose boxes become the layout."""

from __future__ import annotations

from io import BytesIO

from django.conf import settings

from keiin.pdf.stamp import StampFontError
from keiin.pdf.template import ContractTemplate, generate_contract
from keiin.web.accounts.models import User
from keiin.web.contracts import layout, services
from keiin.web.contracts.models import Contract


def create_from_template(terms: services.ContractTerms, body: str, *, creator: User) -> Contract:
    """Generate the PDF for ``terms`` and ``body`` and register it as a draft.

    Raises ``ValueError`` (a field the template refuses, with the reason) or
    :class:`~keiin.web.contracts.services.ContractError`.
    """
    reference = services.new_reference()
    template = ContractTemplate(
        title=terms.title.strip(),
        reference=reference,
        operator_name=settings.KEIIN_ORGANIZATION,
        partner_name=terms.partner.company_name("ja"),
        body=body,
        contract_date=terms.contract_date,
        signatories=tuple(u.display_name or u.login_id for u in terms.signatories),
        amount=int(terms.amount) if terms.amount is not None else None,
        starts_on=terms.starts_on,
        ends_on=terms.ends_on,
    )
    try:
        generated = generate_contract(template)
    except StampFontError as exc:
        raise services.ContractError(str(exc)) from None
    fields = [
        {
            "name": layout.SEAL_FIELD,
            "page": generated.operator_box.page,
            "box": list(generated.operator_box.box),
        },
        *(
            {"name": layout.signer_field(i), "page": box.page, "box": list(box.box)}
            for i, box in enumerate(generated.signatory_boxes, start=1)
        ),
    ]
    return services.create_contract(
        terms,
        BytesIO(generated.pdf),
        creator=creator,
        source=Contract.Source.TEMPLATE,
        field_layout=fields,
        reference=reference,
    )
