"""When a pending signatory leaves (or their certificate is superseded), tell the operator.

The contract cannot go on with that person; the operator decides (cancel and create a new
one). Nothing is changed automatically: a contract is a legal document.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from keiin.web.audit.log import record
from keiin.web.contracts import notify
from keiin.web.contracts.models import Contract, ContractSigner
from keiin.web.partners.signals import user_removed


@receiver(user_removed)
def _signatory_removed(sender: Any, *, user: Any, actor: str, **_: Any) -> None:
    pending = ContractSigner.objects.filter(
        user=user,
        status__in=(ContractSigner.Status.PENDING, ContractSigner.Status.WAITING),
        contract__status__in=(Contract.Status.DRAFT, Contract.Status.SIGNING),
    ).select_related("contract", "contract__partner")
    for signer in pending:
        contract = signer.contract
        record(
            "contract.signatory_removed",
            actor=actor,
            target=f"contract:{contract.public_id}",
            data={"position": signer.position, "signatory": user.login_id},
        )
        notify.send_mail(
            contract,
            "signatory_removed",
            notify.operator_people(contract),
            {"signer_name": user.display_name or user.login_id},
        )
