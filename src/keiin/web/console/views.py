"""Operator console pages. Every change is a POST (CSRF-checked) calling the TSA services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from keiin.web.accounts.models import Role
from keiin.web.console import forms
from keiin.web.timestamping import services, terms
from keiin.web.timestamping.models import TokenRevocation, TsaAccount


def _actor(request: HttpRequest) -> str:
    return f"console:{request.user.login_id}"


@method_decorator(never_cache, name="dispatch")
class StaffMixin:
    """Anonymous visitors go to the login page, other roles get 403; staff who must change
    their password are sent to do that first."""

    password_change_page = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("console:login"))
        if not (user.is_active and user.is_staff):
            raise PermissionDenied
        if user.must_change_password and not self.password_change_page:
            return redirect("console:password-change")
        return super().dispatch(request, *args, **kwargs)


class LoginView(auth_views.LoginView):
    template_name = "console/login.html"
    authentication_form = forms.StaffLoginForm

    def get_default_redirect_url(self) -> str:
        return _start_page(self.request.user)


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]

    def get_success_url(self) -> str:
        return reverse("console:login")


class PasswordChangeView(StaffMixin, auth_views.PasswordChangeView):
    password_change_page = True
    template_name = "console/password_change.html"
    success_url = reverse_lazy("console:tsa")

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.user
        if user.must_change_password:
            user.must_change_password = False
            user.save(update_fields=["must_change_password"])
        messages.success(self.request, _("Your password has been changed."))
        return response


class HomeView(StaffMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect(_start_page(request.user))


def _start_page(user) -> str:  # type: ignore[no-untyped-def]
    """Where a staff member lands: contract managers on the contracts, others on the TSA."""
    if getattr(user, "role", None) == Role.CONTRACT_MANAGER:
        return reverse("contracts:console-list")
    return reverse("console:tsa")


class TsaIndexView(StaffMixin, TemplateView):
    template_name = "console/tsa_index.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        today = timezone.localdate()
        month_form = forms.MonthForm(self.request.GET or None)
        year, month = (month_form.is_bound and month_form.year_month()) or (
            today.year,
            today.month,
        )
        if not month_form.is_bound:
            month_form = forms.MonthForm(initial={"month": f"{year:04d}-{month:02d}"})
        rows = []
        for account in TsaAccount.objects.select_related("plan"):
            rows.append((account, terms.month_usage(account, year, month)))
        anonymous = terms.anonymous_tokens(year, month)
        customer_tokens = sum(usage.tokens for _account, usage in rows)
        context.update(
            month_form=month_form,
            month=f"{year:04d}-{month:02d}",
            rows=rows,
            anonymous=anonymous,
            customer_tokens=customer_tokens,
            total_overage=sum(usage.overage for _account, usage in rows),
            total_tokens=customer_tokens + anonymous,
        )
        return context


class AccountCreateView(StaffMixin, View):
    template_name = "console/tsa_new.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"form": forms.AccountCreateForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = forms.AccountCreateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                account = services.create_account(
                    data["user_id"],
                    data["password1"],
                    actor=_actor(request),
                    plan=data["plan"].name if data["plan"] else None,
                    quota=data["quota"],
                    organization=data["organization"],
                    email=data["email"],
                    start=data["start"],
                    ip_allowlist=data["ip_allowlist"],
                )
            except services.TsaServiceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, _("TSA account %(user_id)s created.") % {"user_id": account.user_id}
                )
                return redirect("console:tsa-account", user_id=account.user_id)
        return render(request, self.template_name, {"form": form})


def _suspend(request: HttpRequest, user_id: str, data: dict) -> str:
    services.set_status(
        user_id, TsaAccount.Status.SUSPENDED, actor=_actor(request), reason=data["reason"]
    )
    return _("The account is suspended.")


def _resume(request: HttpRequest, user_id: str, data: dict) -> str:
    services.set_status(user_id, TsaAccount.Status.ACTIVE, actor=_actor(request))
    return _("The account is active again.")


def _terminate(request: HttpRequest, user_id: str, data: dict) -> str:
    services.set_status(
        user_id, TsaAccount.Status.TERMINATED, actor=_actor(request), reason=data["reason"]
    )
    return _("The account is terminated.")


def _notice(request: HttpRequest, user_id: str, data: dict) -> str:
    end = services.give_non_renewal_notice(user_id, actor=_actor(request), on=data["on"])
    return _("Notice of non-renewal recorded; the service ends on %(date)s.") % {
        "date": end.isoformat()
    }


def _token_create(request: HttpRequest, user_id: str, data: dict) -> HttpResponse:
    new = services.create_api_token(user_id, data["name"], actor=_actor(request))
    response = render(
        request,
        "console/tsa_token_created.html",
        {"account": new.row.account, "token": new.row, "secret": new.secret},
    )
    response["Cache-Control"] = "no-store"
    return response


def _token_revoke(request: HttpRequest, user_id: str, data: dict) -> str:
    count = services.revoke_api_token(user_id, data["name"], actor=_actor(request))
    if not count:
        raise services.TsaServiceError(
            _("No live API token named %(name)s.") % {"name": data["name"]}
        )
    return _("API token %(name)s revoked.") % {"name": data["name"]}


#: action → (form, handler(request, user_id, cleaned_data) → success message or a response)
ACCOUNT_ACTIONS = {
    "suspend": (forms.SuspendForm, _suspend),
    "resume": (forms.ResumeForm, _resume),
    "terminate": (forms.TerminateForm, _terminate),
    "notice": (forms.NoticeForm, _notice),
    "token-create": (forms.ApiTokenCreateForm, _token_create),
    "token-revoke": (forms.ApiTokenRevokeForm, _token_revoke),
}


class AccountView(StaffMixin, View):
    template_name = "console/tsa_account.html"

    def _account(self, user_id: str) -> TsaAccount:
        account = TsaAccount.objects.select_related("plan").filter(user_id=user_id).first()
        if account is None:
            raise Http404
        return account

    def _render(self, request: HttpRequest, account: TsaAccount, bound=None) -> HttpResponse:
        action_forms = {name: form_class() for name, (form_class, _h) in ACCOUNT_ACTIONS.items()}
        status = 200
        if bound is not None:
            action_forms[bound[0]] = bound[1]
            status = 400
        today = timezone.localdate()
        context = {
            "account": account,
            "usage": terms.month_usage(account, today.year, today.month),
            "api_tokens": account.api_tokens.order_by("-created_at"),
            "forms": {k.replace("-", "_"): v for k, v in action_forms.items()},
            "in_service": terms.in_service(account, today),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, user_id: str) -> HttpResponse:
        return self._render(request, self._account(user_id))

    def post(self, request: HttpRequest, user_id: str) -> HttpResponse:
        account = self._account(user_id)
        action = request.POST.get("action", "")
        if action not in ACCOUNT_ACTIONS:
            messages.error(request, _("Unknown action."))
            return redirect("console:tsa-account", user_id=account.user_id)
        form_class, handler = ACCOUNT_ACTIONS[action]
        form = form_class(request.POST)
        if not form.is_valid():
            return self._render(request, account, (action, form))
        try:
            result = handler(request, account.user_id, form.cleaned_data)
        except services.TsaServiceError as exc:
            messages.error(request, str(exc))
        else:
            if isinstance(result, HttpResponse):
                return result
            messages.success(request, result)
        return redirect("console:tsa-account", user_id=account.user_id)


class RevocationsView(StaffMixin, View):
    template_name = "console/tsa_revocations.html"

    def _render(self, request: HttpRequest, serial_form=None, window_form=None) -> HttpResponse:
        status = 400 if (serial_form or window_form) else 200
        context = {
            "serial_form": serial_form or forms.RevokeSerialForm(),
            "window_form": window_form or forms.RevokeWindowForm(),
            "revocations": TokenRevocation.objects.order_by("-revoked_at", "-id"),
            "timezone": timezone.get_current_timezone_name(),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action")
        actor = _actor(request)
        if action == "serial":
            form = forms.RevokeSerialForm(request.POST)
            if not form.is_valid():
                return self._render(request, serial_form=form)
            try:
                row = services.revoke_token_serial(
                    form.cleaned_data["serial"], form.cleaned_data["reason"], actor=actor
                )
            except services.TsaServiceError as exc:
                form.add_error(None, str(exc))
                return self._render(request, serial_form=form)
            messages.success(request, _("Token %(serial)s revoked.") % {"serial": row.serial_hex})
        elif action == "window":
            form = forms.RevokeWindowForm(request.POST)
            if not form.is_valid():
                return self._render(request, window_form=form)
            data = form.cleaned_data
            try:
                _row, count = services.revoke_token_window(
                    data["start"], data["end"], data["reason"], actor=actor
                )
            except services.TsaServiceError as exc:
                form.add_error(None, str(exc))
                return self._render(request, window_form=form)
            messages.success(
                request,
                _("Period revoked; %(count)d issued tokens fall in it.") % {"count": count},
            )
        else:
            messages.error(request, _("Unknown action."))
        return redirect("console:tsa-revocations")
