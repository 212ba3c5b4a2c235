"""Operator console pages for contracts and the organisation seal.

Contract managers create, seal and cancel contracts and hold the seal; every member of the
operator staff can list, search, view and download. Every change is a CSRF-checked POST
calling :mod:`keiin.web.contracts.services`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from keiin import custody
from keiin.pki.revocation import RevocationReason
from keiin.web.accounts.models import Role
from keiin.web.audit.models import AuditEvent
from keiin.web.console.views import StaffMixin
from keiin.web.contracts import downloads, forms, generate, services
from keiin.web.contracts.files import UploadError, max_upload_bytes
from keiin.web.contracts.models import Contract, ContractVersion
from keiin.web.contracts.search import search
from keiin.web.credentials import services as credentials
from keiin.web.partners.addresses import client_address
from keiin.web.partners.models import Partner

PAGE_SIZE = 50


def _actor(request: HttpRequest) -> str:
    return f"user:{request.user.login_id}"


def _require_manager(request: HttpRequest) -> None:
    if request.user.role != Role.CONTRACT_MANAGER:
        raise PermissionDenied


def _contract(public_id: str) -> Contract:
    return get_object_or_404(Contract.objects.select_related("partner"), public_id=public_id)


class ContractListView(StaffMixin, View):
    """``/console/contracts/``: every contract, searchable by date, amount, counterparty."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = forms.SearchForm(request.GET or None)
        contracts = Contract.objects.all()
        status = 200
        if form.is_bound:
            if form.is_valid():
                contracts = search(contracts, form.cleaned_data)
            else:
                contracts, status = Contract.objects.none(), 400
        else:
            contracts = search(contracts, {})
        page = Paginator(contracts, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {
            "form": form,
            "page": page,
            "query": request.GET.urlencode(),
            "is_manager": request.user.role == Role.CONTRACT_MANAGER,
        }
        return render(request, "contracts/console/list.html", context, status=status)


class ContractNewView(StaffMixin, View):
    """``/console/contracts/new/``: step 1, choose the counterparty and how to make the PDF."""

    def get(self, request: HttpRequest) -> HttpResponse:
        _require_manager(request)
        form = forms.PartnerChoiceForm(request.GET or None)
        if form.is_bound and form.is_valid():
            name = (
                "contracts:console-new-template"
                if request.GET.get("source") == "template"
                else "contracts:console-new-upload"
            )
            return redirect(name, partner_pk=form.cleaned_data["partner"].pk)
        return render(request, "contracts/console/new.html", {"form": form})


class _CreateView(StaffMixin, View):
    form_class: type[forms.ContractForm]
    template_name: str

    def _partner(self, partner_pk: int) -> Partner:
        return get_object_or_404(Partner, pk=partner_pk, status=Partner.Status.ACTIVE)

    def _render(self, request: HttpRequest, form: forms.ContractForm, status: int = 200):
        context = {
            "form": form,
            "partner": form.partner,
            "max_mib": max_upload_bytes() // (1024 * 1024),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, partner_pk: int) -> HttpResponse:
        _require_manager(request)
        return self._render(request, self.form_class(partner=self._partner(partner_pk)))

    def post(self, request: HttpRequest, partner_pk: int) -> HttpResponse:
        _require_manager(request)
        partner = self._partner(partner_pk)
        form = self.form_class(request.POST, request.FILES, partner=partner)
        if not form.is_valid():
            return self._render(request, form, 400)
        data = form.cleaned_data
        terms = services.ContractTerms(
            title=data["title"],
            partner=partner,
            signatories=form.signatories(),
            contract_date=data["contract_date"],
            amount=data.get("amount"),
            starts_on=data.get("starts_on"),
            ends_on=data.get("ends_on"),
            sign_by=forms.to_aware(data.get("sign_by")),
            retention_until=data.get("retention_until"),
            note=data.get("note") or "",
        )
        try:
            contract = self.create(terms, form, request)
        except (services.ContractError, UploadError, ValueError) as exc:
            form.add_error(None, str(exc))
            return self._render(request, form, 400)
        messages.success(request, _("The contract was registered as a draft."))
        return redirect("contracts:console-detail", public_id=contract.public_id)

    def create(self, terms: services.ContractTerms, form: Any, request: HttpRequest) -> Contract:
        raise NotImplementedError


class UploadCreateView(_CreateView):
    """``/console/contracts/new/<partner>/``: a contract from an uploaded PDF."""

    form_class = forms.UploadForm
    template_name = "contracts/console/create.html"

    def create(self, terms: services.ContractTerms, form: Any, request: HttpRequest) -> Contract:
        upload = form.cleaned_data["file"]
        with upload.open("rb") as stream:
            return services.create_contract(
                terms,
                stream,
                creator=request.user,
                allow_signed=form.cleaned_data.get("allow_signed", False),
            )


class TemplateCreateView(_CreateView):
    """``/console/contracts/new/<partner>/template/``: a contract generated from text."""

    form_class = forms.TemplateForm
    template_name = "contracts/console/create.html"

    def create(self, terms: services.ContractTerms, form: Any, request: HttpRequest) -> Contract:
        return generate.create_from_template(terms, form.cleaned_data["body"], creator=request.user)


class ContractDetailView(StaffMixin, View):
    """``/console/contracts/<id>/``: the contract, its signatories, versions, validation and
    history; seal (contract managers) and cancel."""

    def _render(self, request: HttpRequest, contract: Contract, status: int = 200, **extra: Any):
        versions = list(contract.versions.order_by("number"))
        context = {
            "contract": contract,
            "signers": contract.signers.select_related("user").order_by("position"),
            "versions": versions,
            "latest": versions[-1] if versions else None,
            "events": AuditEvent.objects.filter(target=f"contract:{contract.public_id}").order_by(
                "seq"
            ),
            "is_manager": request.user.role == Role.CONTRACT_MANAGER,
            "seal": credentials.live_seal(),
            "seal_form": extra.get("seal_form") or forms.SealForm(),
            "cancel_form": extra.get("cancel_form") or forms.CancelForm(),
            "max_failures": custody.MAX_PIN_FAILURES,
        }
        return render(request, "contracts/console/detail.html", context, status=status)

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        return self._render(request, _contract(public_id))

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        contract = _contract(public_id)
        action = request.POST.get("action")
        if action == "seal":
            _require_manager(request)
            form = forms.SealForm(request.POST)
            if not form.is_valid():
                return self._render(request, contract, 400, seal_form=form)
            try:
                services.seal(contract, request.user, form.cleaned_data["pin"])
            except (services.ContractError, credentials.CredentialError) as exc:
                form.add_error(None, str(exc))
                contract.refresh_from_db()
                return self._render(request, contract, 400, seal_form=form)
            messages.success(request, _("The contract was sealed and sent for signature."))
        elif action == "cancel":
            form = forms.CancelForm(request.POST)
            if not form.is_valid():
                return self._render(request, contract, 400, cancel_form=form)
            try:
                services.cancel(contract, request.user, form.cleaned_data["reason"])
            except services.ContractError as exc:
                form.add_error(None, str(exc))
                return self._render(request, contract, 400, cancel_form=form)
            messages.success(request, _("The contract was cancelled."))
        else:
            return HttpResponse(_("Unknown action."), status=400)
        return redirect("contracts:console-detail", public_id=contract.public_id)


class ContractFileView(StaffMixin, View):
    """``/console/contracts/<id>/v<n>/`` (inline) and ``…/download/`` (attachment, audited)."""

    attachment = False

    def get(self, request: HttpRequest, public_id: str, number: int) -> HttpResponse:
        contract = _contract(public_id)
        version = get_object_or_404(ContractVersion, contract=contract, number=number)
        return downloads.pdf_response(
            request, contract, version, attachment=self.attachment, actor=_actor(request)
        )


class ContractDownloadView(ContractFileView):
    attachment = True


class SealView(StaffMixin, View):
    """``/console/seal/``: the organisation seal — create it (its own PIN), change the PIN,
    revoke it. Only contract managers create it and change its PIN; any staff can revoke."""

    def _render(self, request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
        from keiin.web.credentials.forms import PinChangeForm

        context = {
            "seal": credentials.live_seal(),
            "subject": credentials.seal_subject(),
            "is_manager": credentials.may_use_seal(request.user),
            "create_form": extra.get("create_form") or forms.SealCreateForm(),
            "pin_form": extra.get("pin_form") or PinChangeForm(),
            "max_failures": custody.MAX_PIN_FAILURES,
        }
        return render(request, "contracts/console/seal.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        from keiin.web.credentials.forms import PinChangeForm

        action = request.POST.get("action")
        actor = _actor(request)
        if action == "create":
            _require_manager(request)
            form = forms.SealCreateForm(request.POST)
            if not form.is_valid():
                return self._render(request, 400, create_form=form)
            receipt = credentials.Receipt(
                ip=client_address(request), user_agent=request.headers.get("User-Agent", "")
            )
            try:
                credentials.request_seal(request.user, form.cleaned_data["pin"], receipt)
            except (credentials.CredentialError, custody.WeakPinError) as exc:
                form.add_error(None, str(exc))
                return self._render(request, 400, create_form=form)
            messages.success(request, _("The organisation seal was created."))
        elif action == "change-pin":
            _require_manager(request)
            seal = credentials.live_seal()
            if seal is None:
                raise Http404
            form = PinChangeForm(request.POST)
            if not form.is_valid():
                return self._render(request, 400, pin_form=form)
            try:
                credentials.change_pin(
                    seal,
                    form.cleaned_data["old_pin"],
                    form.cleaned_data["new_pin"],
                    actor=actor,
                    user=request.user,
                )
            except credentials.CredentialError as exc:
                form.add_error(None, str(exc))
                return self._render(request, 400, pin_form=form)
            messages.success(request, _("The seal PIN was changed."))
        elif action == "revoke":
            seal = credentials.live_seal()
            if seal is None:
                raise Http404
            credentials.revoke_credential(
                seal,
                RevocationReason.CESSATION_OF_OPERATION
                if request.POST.get("reason") != "keyCompromise"
                else RevocationReason.KEY_COMPROMISE,
                actor=actor,
                note=request.POST.get("note", "")[:2000],
            )
            messages.success(request, _("The organisation seal was revoked."))
        else:
            return HttpResponse(_("Unknown action."), status=400)
        return redirect("contracts:console-seal")
