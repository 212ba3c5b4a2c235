"""Contract pages of the partner area: list and search, read, sign with the PIN, decline,
download a copy.

Only the partner's own people see its contracts (the partner comes from the URL and must be
the person's own, see :class:`~keiin.web.partners.views.MemberMixin`; a contract of another
partner, or a draft, is a 404). Signing and declining are CSRF-checked POSTs.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from keiin import custody
from keiin.web.accounts.models import Role
from keiin.web.contracts import downloads, forms, services
from keiin.web.contracts.models import Contract, ContractSigner
from keiin.web.contracts.search import search
from keiin.web.credentials import services as credentials
from keiin.web.partners.views import MemberMixin

PAGE_SIZE = 50


def _visible(partner_pk: int):  # type: ignore[no-untyped-def]
    """The partner's contracts that have been registered (drafts are the operator's)."""
    return Contract.objects.filter(partner_id=partner_pk).exclude(status=Contract.Status.DRAFT)


class PartnerContractMixin(MemberMixin):
    """Resolves ``public_id`` among the URL partner's visible contracts (404 otherwise)."""

    def contract(self, public_id: str) -> Contract:
        return get_object_or_404(
            _visible(self.partner.pk).select_related("partner"), public_id=public_id
        )


class ContractListView(MemberMixin, View):
    """``/p/<slug>/contracts/``: the company's contracts, searchable."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        form = forms.SearchForm(request.GET or None)
        contracts = _visible(self.partner.pk)
        status = 200
        if form.is_bound:
            if form.is_valid():
                contracts = search(contracts, form.cleaned_data)
            else:
                contracts, status = Contract.objects.none(), 400
        else:
            contracts = search(contracts, {})
        page = Paginator(contracts, PAGE_SIZE).get_page(request.GET.get("page"))
        my_turn = set(
            ContractSigner.objects.filter(
                user=request.user,
                status=ContractSigner.Status.WAITING,
                contract__status=Contract.Status.SIGNING,
            ).values_list("contract_id", flat=True)
        )
        context = {
            "partner": self.partner,
            "company": self.partner.company_name(),
            "form": form,
            "page": page,
            "my_turn": my_turn,
            "query": request.GET.urlencode(),
        }
        return render(request, "contracts/partner/list.html", context, status=status)


class ContractDetailView(PartnerContractMixin, View):
    """``/p/<slug>/contracts/<id>/``: read the document; the signatory whose turn it is signs
    with the PIN or declines."""

    def _render(self, request: HttpRequest, contract: Contract, status: int = 200, **extra: Any):
        user = request.user
        me = contract.signers.filter(user=user).first()
        current = contract.current_signer()
        my_turn = current is not None and current.user_id == user.pk
        latest = contract.latest_version()
        context = {
            "partner": self.partner,
            "company": self.partner.company_name(),
            "contract": contract,
            "signers": contract.signers.select_related("user").order_by("position"),
            "latest": latest,
            "me": me,
            "my_turn": my_turn,
            "has_viewed": bool(me and latest and me.viewed_version == latest.number),
            "credential": credentials.live_credential(user)
            if user.role == Role.SIGNATORY
            else None,
            "sign_form": extra.get("sign_form") or forms.SignForm(),
            "decline_form": extra.get("decline_form") or forms.DeclineForm(),
            "max_failures": custody.MAX_PIN_FAILURES,
        }
        return render(request, "contracts/partner/detail.html", context, status=status)

    def get(self, request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
        return self._render(request, self.contract(public_id))

    def post(self, request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
        contract = self.contract(public_id)
        user = request.user
        action = request.POST.get("action")
        if user.role != Role.SIGNATORY:
            return HttpResponse(_("Only signatories can do that."), status=403)
        if action == "sign":
            form = forms.SignForm(request.POST)
            if not form.is_valid():
                return self._render(request, contract, 400, sign_form=form)
            try:
                services.sign(contract, user, form.cleaned_data["pin"])
            except (services.ContractError, credentials.CredentialError) as exc:
                form.add_error(None, str(exc))
                contract.refresh_from_db()
                return self._render(request, contract, 400, sign_form=form)
            messages.success(request, _("You have signed the contract."))
        elif action == "decline":
            form = forms.DeclineForm(request.POST)
            if not form.is_valid():
                return self._render(request, contract, 400, decline_form=form)
            try:
                services.decline(contract, user, form.cleaned_data["reason"])
            except services.ContractError as exc:
                form.add_error(None, str(exc))
                return self._render(request, contract, 400, decline_form=form)
            messages.success(request, _("You have declined the contract."))
        else:
            return HttpResponse(_("Unknown action."), status=400)
        return redirect("contracts:partner-detail", slug=slug, public_id=public_id)


class ContractFileView(PartnerContractMixin, View):
    """``/p/<slug>/contracts/<id>/document/``: the newest file, inline (opening it counts as
    reading it, for the signatory); ``…/download/``: a copy as an attachment (audited)."""

    attachment = False

    def get(self, request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
        contract = self.contract(public_id)
        version = contract.latest_version()
        if version is None:  # pragma: no cover - a registered contract has versions
            return HttpResponse(status=404)
        if not self.attachment:
            services.mark_viewed(contract, request.user, version)
        return downloads.pdf_response(
            request,
            contract,
            version,
            attachment=self.attachment,
            actor=f"user:{request.user.login_id}",
        )


class ContractDownloadView(ContractFileView):
    attachment = True
