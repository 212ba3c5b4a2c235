"""Operator console pages for applications, partners and their people (staff only).

Every change is a CSRF-checked POST calling :mod:`keiin.web.partners.services`, which audits
it and sends the e-mail; a mail that could not be sent is reported on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from keiin.web.accounts.models import User
from keiin.web.audit.models import AuditEvent
from keiin.web.console.views import StaffMixin
from keiin.web.partners import forms, services
from keiin.web.partners.models import Application, Partner


def _actor(request: HttpRequest) -> str:
    return f"console:{request.user.login_id}"


def _report_mail(request: HttpRequest, report: services.MailReport) -> None:
    if report.failed:
        messages.warning(
            request,
            _("E-mail could not be sent to: %(addresses)s. Check the mail settings and send again.")
            % {"addresses": ", ".join(report.failed)},
        )


def _history(target: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(target=target).order_by("-seq")[:50])


# --------------------------------------------------------------------------- applications


class ApplicationListView(StaffMixin, View):
    template_name = "partners/console/applications.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        status = request.GET.get("status", "open")
        rows = Application.objects.all()
        if status == "open":
            rows = rows.filter(status__in=Application.OPEN)
        elif status in Application.Status.values:
            rows = rows.filter(status=status)
        else:
            status = "all"
        filters = [("open", _("Open")), *Application.Status.choices, ("all", _("All"))]
        context = {
            "applications": rows.prefetch_related("people"),
            "status": status,
            "filters": filters,
        }
        return render(request, self.template_name, context)


def _approve(request: HttpRequest, application: Application, data: dict) -> Any:
    approval = services.approve_application(
        application, actor=_actor(request), login_slug=data["login_slug"]
    )
    _report_mail(request, approval.mail)
    messages.success(
        request,
        _("Approved: %(company)s is registered and %(count)d people are invited.")
        % {"company": approval.partner.name_ja, "count": len(approval.users)},
    )
    return redirect("console:partner", pk=approval.partner.pk)


def _reject(request: HttpRequest, application: Application, data: dict) -> Any:
    _report_mail(
        request, services.reject_application(application, data["reason"], actor=_actor(request))
    )
    messages.success(request, _("The application is rejected; the applicant is informed."))
    return None


def _request_documents(request: HttpRequest, application: Application, data: dict) -> Any:
    _report_mail(
        request, services.request_documents(application, data["message"], actor=_actor(request))
    )
    messages.success(request, _("The request for documents is sent to the applicant."))
    return None


#: action → (form class, handler(request, application, data) → a response or None)
APPLICATION_ACTIONS: dict[str, tuple[type, Callable[..., Any]]] = {
    "approve": (forms.ApproveForm, _approve),
    "reject": (forms.RejectForm, _reject),
    "request-documents": (forms.RequestDocumentsForm, _request_documents),
}


class ApplicationView(StaffMixin, View):
    template_name = "partners/console/application.html"

    def _render(self, request: HttpRequest, application: Application, bound=None):
        action_forms = {k: cls() for k, (cls, _h) in APPLICATION_ACTIONS.items()}
        if bound:
            action_forms[bound[0]] = bound[1]
        context = {
            "application": application,
            "people": application.people.select_related("user"),
            "forms": {k.replace("-", "_"): v for k, v in action_forms.items()},
            "history": _history(f"application:{application.reference}"),
        }
        return render(request, self.template_name, context, status=400 if bound else 200)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._render(request, get_object_or_404(Application, pk=pk))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        application = get_object_or_404(Application, pk=pk)
        action = request.POST.get("action", "")
        if action not in APPLICATION_ACTIONS:
            messages.error(request, _("Unknown action."))
            return redirect("console:application", pk=pk)
        form_class, handler = APPLICATION_ACTIONS[action]
        form = form_class(request.POST)
        if not form.is_valid():
            return self._render(request, application, (action, form))
        try:
            response = handler(request, application, form.cleaned_data)
        except services.PartnerServiceError as exc:
            form.add_error(None, str(exc))
            return self._render(request, application, (action, form))
        return response or redirect("console:application", pk=pk)


# --------------------------------------------------------------------------- partners


class PartnerListView(StaffMixin, View):
    template_name = "partners/console/partners.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"partners": Partner.objects.all()})


class PartnerView(StaffMixin, View):
    """A partner's details, people and history; POST changes its status."""

    template_name = "partners/console/partner.html"

    def _render(self, request: HttpRequest, partner: Partner, status_form=None):
        context = {
            "partner": partner,
            "people": partner.people.order_by("-is_active", "login_id"),
            "status_form": status_form or forms.PartnerStatusForm(),
            "history": _history(f"partner:{partner.pk}"),
            "login_path": f"/p/{partner.login_slug}/login/",
        }
        return render(request, self.template_name, context, status=400 if status_form else 200)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._render(request, get_object_or_404(Partner, pk=pk))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        partner = get_object_or_404(Partner, pk=pk)
        form = forms.PartnerStatusForm(request.POST)
        if not form.is_valid():
            return self._render(request, partner, form)
        try:
            report = services.set_partner_status(
                partner,
                form.cleaned_data["status"],
                form.cleaned_data["reason"],
                actor=_actor(request),
            )
        except services.PartnerServiceError as exc:
            form.add_error(None, str(exc))
            return self._render(request, partner, form)
        _report_mail(request, report)
        messages.success(request, _("The partner's status is changed; the partner is notified."))
        return redirect("console:partner", pk=pk)


class PartnerEditView(StaffMixin, View):
    template_name = "partners/console/partner_edit.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        partner = get_object_or_404(Partner, pk=pk)
        form = forms.PartnerEditForm(instance=partner)
        return render(request, self.template_name, {"partner": partner, "form": form})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        partner = get_object_or_404(Partner, pk=pk)
        # An unsaved copy for validation: the service writes the change (and its audit).
        form = forms.PartnerEditForm(request.POST, instance=Partner.objects.get(pk=pk))
        if form.is_valid():
            try:
                services.edit_partner(partner, form.cleaned_data, actor=_actor(request))
            except services.PartnerServiceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The partner's details are saved."))
                return redirect("console:partner", pk=pk)
        context = {"partner": partner, "form": form}
        return render(request, self.template_name, context, status=400)


class PartnerUserNewView(StaffMixin, View):
    template_name = "partners/console/partner_user_new.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        partner = get_object_or_404(Partner, pk=pk)
        context = {"partner": partner, "form": forms.PartnerUserForm()}
        return render(request, self.template_name, context)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        partner = get_object_or_404(Partner, pk=pk)
        form = forms.PartnerUserForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user, report = services.add_user(
                    partner,
                    data["display_name"],
                    data["email"],
                    data["role"],
                    actor=_actor(request),
                )
            except services.PartnerServiceError as exc:
                form.add_error(None, str(exc))
            else:
                _report_mail(request, report)
                messages.success(
                    request,
                    _("%(name)s is registered as %(login_id)s and invited.")
                    % {"name": user.display_name, "login_id": user.login_id},
                )
                return redirect("console:partner", pk=pk)
        context = {"partner": partner, "form": form}
        return render(request, self.template_name, context, status=400)


class PartnerUserView(StaffMixin, View):
    """Edit, remove or re-invite one of a partner's people."""

    template_name = "partners/console/partner_user.html"

    def _person(self, pk: int, user_pk: int) -> User:
        person = User.objects.select_related("partner").filter(pk=user_pk, partner_id=pk).first()
        if person is None:
            raise Http404
        return person

    def _render(self, request: HttpRequest, person: User, edit=None, remove=None):
        initial = {"display_name": person.display_name, "email": person.email, "role": person.role}
        context = {
            "partner": person.partner,
            "person": person,
            "edit_form": edit or forms.PartnerUserForm(initial=initial),
            "remove_form": remove or forms.RemoveUserForm(),
            "history": _history(f"user:{person.login_id}"),
        }
        status = 400 if (edit or remove) else 200
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
        return self._render(request, self._person(pk, user_pk))

    def post(self, request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
        person = self._person(pk, user_pk)
        action = request.POST.get("action")
        actor = _actor(request)
        try:
            if action == "edit":
                form = forms.PartnerUserForm(request.POST)
                if not form.is_valid():
                    return self._render(request, person, edit=form)
                data = form.cleaned_data
                report = services.edit_user(
                    person,
                    display_name=data["display_name"],
                    email=data["email"],
                    role=data["role"],
                    actor=actor,
                )
                message = _("The person's details are saved.")
            elif action == "remove":
                form = forms.RemoveUserForm(request.POST)
                if not form.is_valid():
                    return self._render(request, person, remove=form)
                report = services.remove_user(person, form.cleaned_data["reason"], actor=actor)
                message = _("The person is removed; their login is disabled.")
            elif action == "invite":
                if not person.is_active or not person.partner.can_log_in:
                    raise services.PartnerServiceError(_("This person cannot log in."))
                report = services.send_invitation(person, actor=actor)
                message = _("The invitation is sent again.")
            else:
                messages.error(request, _("Unknown action."))
                return redirect("console:partner-user", pk=pk, user_pk=user_pk)
        except services.PartnerServiceError as exc:
            messages.error(request, str(exc))
            return redirect("console:partner-user", pk=pk, user_pk=user_pk)
        _report_mail(request, report)
        if not report.failed:
            messages.success(request, message)
        return redirect("console:partner-user", pk=pk, user_pk=user_pk)
