"""Certificate pages: the signatory's (partner area) and the operator's (console).

All changes are CSRF-checked POSTs calling :mod:`keiin.web.credentials.services`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from keiin import custody
from keiin.pki.revocation import RevocationReason
from keiin.web.accounts.models import Role
from keiin.web.console.views import StaffMixin
from keiin.web.credentials import forms, services
from keiin.web.credentials.models import SignerCredential
from keiin.web.partners.addresses import client_address
from keiin.web.partners.views import MemberMixin


class CertificateView(MemberMixin, View):
    """``/p/<slug>/certificate/``: request (PIN), change the PIN, or revoke one's certificate."""

    template_name = "credentials/certificate.html"

    def _render(self, request: HttpRequest, status: int = 200, **forms_: Any) -> HttpResponse:
        user = request.user
        context = {
            "partner": self.partner,
            "company": self.partner.company_name(),
            "credential": services.live_credential(user),
            "request_form": forms_.get("request_form") or forms.RequestCertificateForm(),
            "pin_form": forms_.get("pin_form") or forms.PinChangeForm(),
            "revoke_form": forms_.get("revoke_form") or forms.SelfRevokeForm(),
            "max_failures": custody.MAX_PIN_FAILURES,
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        if request.user.role != Role.SIGNATORY:
            raise Http404
        return self._render(request)

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        user = request.user
        if user.role != Role.SIGNATORY:
            raise Http404
        action = request.POST.get("action")
        actor = f"user:{user.login_id}"
        if action == "request":
            form = forms.RequestCertificateForm(request.POST)
            if not form.is_valid():
                return self._render(request, 400, request_form=form)
            receipt = services.Receipt(
                ip=client_address(request), user_agent=request.headers.get("User-Agent", "")
            )
            try:
                services.request_certificate(user, form.cleaned_data["pin"], receipt)
            except (services.CredentialError, custody.WeakPinError) as exc:
                form.add_error(None, str(exc))
                return self._render(request, 400, request_form=form)
            messages.success(request, _("Your signature certificate has been issued."))
        elif action == "change-pin":
            form = forms.PinChangeForm(request.POST)
            credential = services.live_credential(user)
            if credential is None:
                raise Http404
            if not form.is_valid():
                return self._render(request, 400, pin_form=form)
            try:
                services.change_pin(
                    credential,
                    form.cleaned_data["old_pin"],
                    form.cleaned_data["new_pin"],
                    actor=actor,
                )
            except (services.CredentialError, custody.WeakPinError) as exc:
                form.add_error(None, str(exc))
                return self._render(request, 400, pin_form=form)
            messages.success(request, _("Your PIN has been changed."))
        elif action == "revoke":
            form = forms.SelfRevokeForm(request.POST)
            credential = services.live_credential(user)
            if credential is None:
                raise Http404
            if not form.is_valid():
                return self._render(request, 400, revoke_form=form)
            services.revoke_credential(
                credential,
                RevocationReason(form.cleaned_data["reason"]),
                actor=actor,
                note="requested by the signatory",
            )
            messages.success(request, _("Your certificate has been revoked."))
        else:
            return self._render(request, 400)
        return redirect("credentials:certificate", slug=self.partner.login_slug)


class ConsoleListView(StaffMixin, View):
    """``/console/credentials/``: every signatory credential, newest first."""

    def get(self, request: HttpRequest) -> HttpResponse:
        status = request.GET.get("status", "")
        rows = SignerCredential.objects.select_related("user", "user__partner", "certificate")
        if status in SignerCredential.Status.values:
            rows = rows.filter(status=status)
        return render(
            request,
            "credentials/console_list.html",
            {"rows": rows[:500], "status": status, "statuses": SignerCredential.Status.choices},
        )


class ConsoleDetailView(StaffMixin, View):
    """``/console/credentials/<id>/``: details and the operator's revocation form."""

    def _render(self, request: HttpRequest, row: SignerCredential, form: Any, status: int = 200):
        return render(
            request, "credentials/console_detail.html", {"row": row, "form": form}, status=status
        )

    def get(self, request: HttpRequest, credential_id: str) -> HttpResponse:
        row = get_object_or_404(SignerCredential, credential_id=credential_id)
        return self._render(request, row, forms.OperatorRevokeForm())

    def post(self, request: HttpRequest, credential_id: str) -> HttpResponse:
        row = get_object_or_404(SignerCredential, credential_id=credential_id)
        form = forms.OperatorRevokeForm(request.POST)
        if not form.is_valid():
            return self._render(request, row, form, 400)
        try:
            services.revoke_credential(
                row,
                RevocationReason(form.cleaned_data["reason"]),
                actor=f"staff:{request.user.login_id}",
                note=form.cleaned_data["note"],
                invalidity_date=form.cleaned_data["invalidity_date"],
            )
        except services.CredentialError as exc:
            form.add_error(None, str(exc))
            return self._render(request, row, form, 400)
        messages.success(request, _("The certificate has been revoked."))
        return redirect("credentials:console-detail", credential_id=row.credential_id)
