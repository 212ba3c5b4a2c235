"""Public partner pages: the application form, each partner's login, home and passwords.

Views only translate between HTTP and :mod:`services` / :mod:`login`; every form is a POST
checked by Django's CSRF middleware.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from keiin.web.accounts.models import Role, User
from keiin.web.audit.log import record
from keiin.web.partners import forms, login, services, throttle
from keiin.web.partners.addresses import client_address
from keiin.web.partners.models import Partner
from keiin.web.partners.tokens import invitation_tokens, reset_tokens

#: Session key of a login waiting for its one-time password: {"attempt": id, "partner": pk}.
PENDING = "keiin.partners.pending_login"
#: Session key of the reference of the application just submitted (for the thank-you page).
APPLIED = "keiin.partners.applied"

INVALID_LOGIN = gettext_lazy(
    "The login ID or password is incorrect, or this account cannot log in here."
)
INVALID_CODE = gettext_lazy(
    "The one-time password is incorrect or has expired. Check the latest e-mail, or log in "
    "again to receive a new one."
)
LOCKED = gettext_lazy(
    "Too many failed attempts. Logging in is locked for a while; please try again later."
)
MAIL_FAILED = gettext_lazy(
    "The one-time password could not be sent. Please try again later or contact the operator."
)


def _language() -> str:
    return (get_language() or "ja").split("-")[0]


def _partner(slug: str) -> Partner:
    return get_object_or_404(Partner, login_slug=slug)


def _belongs(user: Any, partner: Partner) -> bool:
    """An active partner user or signatory of ``partner`` (whatever the partner's status)."""
    return bool(
        user.is_active
        and user.partner_id == partner.pk
        and user.role in (Role.PARTNER_USER, Role.SIGNATORY)
    )


#: Session key: the partner page a logged-out person asked for (shown after login).
NEXT = "partner_login_next"


def _is_partner_page(request: HttpRequest, partner: Partner, url: str) -> bool:
    """A local path inside this partner's area (e.g. a contract link from a mail)."""
    if not url or not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return False
    area = f"/p/{partner.login_slug}/"
    return url.startswith(area) or any(
        url.startswith(f"/{code}{area}") for code, _name in settings.LANGUAGES
    )


def _is_member(user: Any, partner: Partner) -> bool:
    return bool(user.is_authenticated and _belongs(user, partner))


# --------------------------------------------------------------------------- application


class ApplyView(View):
    """The application form (利用申込): company, representative, people, terms."""

    template_name = "partners/apply.html"

    def _render(self, request: HttpRequest, form, people, status: int = 200) -> HttpResponse:
        context = {
            "form": form,
            "people": people,
            "terms_version": settings.KEIIN_TERMS_VERSION,
            "operator": settings.KEIIN_ORGANIZATION,
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, forms.ApplicationForm(), forms.person_formset())

    def post(self, request: HttpRequest) -> HttpResponse:
        if "more" in request.POST:  # more rows for people, keeping what was typed
            company = {k: request.POST.get(k, "") for k in forms.ApplicationForm.base_fields}
            company.pop("accept_terms", None)
            rows = forms.rows_from_post(request.POST)
            return self._render(
                request,
                forms.ApplicationForm(initial=company),
                forms.person_formset(initial=rows, extra=3),
            )
        form = forms.ApplicationForm(request.POST)
        people = forms.person_formset(request.POST)
        if form.is_valid() and people.is_valid():
            try:
                application, _report = services.submit_application(
                    form.cleaned_data,
                    people.people(),
                    language=_language(),
                    client_address=client_address(request),
                )
            except services.PartnerServiceError as exc:
                form.add_error(None, str(exc))
            else:
                request.session[APPLIED] = application.reference
                return redirect("partners:apply-done")
        return self._render(request, form, people, status=400)


class ApplyDoneView(TemplateView):
    template_name = "partners/apply_done.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["reference"] = self.request.session.get(APPLIED, "")
        return context


# --------------------------------------------------------------------------- login


@method_decorator(never_cache, name="dispatch")
class LoginView(View):
    """Step 1 on the partner's own URL: login ID and password."""

    template_name = "partners/login.html"

    def _render(self, request: HttpRequest, partner: Partner, form) -> HttpResponse:
        return render(request, self.template_name, {"partner": partner, "form": form})

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        partner = _partner(slug)
        if _is_member(request.user, partner) and partner.can_log_in:
            return redirect("partners:home", slug=partner.login_slug)
        wanted = request.GET.get("next", "")
        if _is_partner_page(request, partner, wanted):
            request.session[NEXT] = wanted  # where to go after the one-time password
        return self._render(request, partner, forms.LoginForm())

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        partner = _partner(slug)
        form = forms.LoginForm(request.POST)
        if not form.is_valid():
            return self._render(request, partner, form)
        outcome = login.check_password(
            request,
            partner,
            form.cleaned_data["login_id"],
            form.cleaned_data["password"],
            address=client_address(request),
            language=_language(),
        )
        if outcome.ok:
            request.session[PENDING] = {"attempt": outcome.attempt.pk, "partner": partner.pk}
            return redirect("partners:otp", slug=partner.login_slug)
        message = {
            login.Result.LOCKED: LOCKED,
            login.Result.MAIL_FAILED: MAIL_FAILED,
        }.get(outcome.result, INVALID_LOGIN)
        form.add_error(None, message)
        return self._render(request, partner, form)


@method_decorator(never_cache, name="dispatch")
class OtpView(View):
    """Step 2: the one-time password e-mailed for this login attempt."""

    template_name = "partners/otp.html"

    def _pending(self, request: HttpRequest, partner: Partner) -> str | None:
        pending = request.session.get(PENDING) or {}
        if pending.get("partner") != partner.pk:
            return None
        return pending.get("attempt")

    def _render(self, request: HttpRequest, partner: Partner, form) -> HttpResponse:
        return render(request, self.template_name, {"partner": partner, "form": form})

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        partner = _partner(slug)
        if login.open_attempt(self._pending(request, partner), partner) is None:
            messages.info(request, _("Please log in with your login ID and password."))
            return redirect("partners:login", slug=partner.login_slug)
        return self._render(request, partner, forms.CodeForm())

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        partner = _partner(slug)
        attempt_id = self._pending(request, partner)
        if attempt_id is None:
            messages.info(request, _("Please log in with your login ID and password."))
            return redirect("partners:login", slug=partner.login_slug)
        form = forms.CodeForm(request.POST)
        if not form.is_valid():
            return self._render(request, partner, form)
        outcome = login.check_code(
            attempt_id, partner, form.cleaned_data["code"], address=client_address(request)
        )
        if outcome.ok:
            request.session.pop(PENDING, None)
            wanted = request.session.pop(NEXT, "")
            # login() rotates the session key (and flushes another user's session).
            auth_login(request, outcome.user, backend="django.contrib.auth.backends.ModelBackend")
            if _is_partner_page(request, partner, wanted):
                return redirect(wanted)
            return redirect("partners:home", slug=partner.login_slug)
        if outcome.result is login.Result.LOCKED:
            request.session.pop(PENDING, None)
            form.add_error(None, LOCKED)
        else:
            form.add_error(None, INVALID_CODE)
        return self._render(request, partner, form)


class LogoutView(View):
    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        partner = _partner(slug)
        if request.user.is_authenticated:
            record("partner.logout", actor=f"user:{request.user.login_id}", target="")
        auth_logout(request)
        return redirect("partners:login", slug=partner.login_slug)


# --------------------------------------------------------------------------- partner pages


@method_decorator(never_cache, name="dispatch")
class MemberMixin:
    """Pages for the logged-in people of the partner in the URL (404 for anyone else)."""

    partner: Partner

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.partner = _partner(kwargs["slug"])
        user = request.user
        if not user.is_authenticated:
            login_url = reverse("partners:login", kwargs={"slug": self.partner.login_slug})
            if request.method == "GET":
                login_url += "?" + urlencode({"next": request.get_full_path()})
            return redirect(login_url)
        if not _is_member(user, self.partner):
            raise Http404
        if not self.partner.can_log_in:
            auth_logout(request)
            messages.error(
                request,
                _(
                    "The service is not available to your company at the moment. Please contact "
                    "the operator."
                ),
            )
            return redirect("partners:login", slug=self.partner.login_slug)
        return super().dispatch(request, *args, **kwargs)


class HomeView(MemberMixin, TemplateView):
    """The partner home: company and role; signatories get the certificate section."""

    template_name = "partners/home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context.update(
            partner=self.partner,
            company=self.partner.company_name(),
            is_signatory=user.role == Role.SIGNATORY,
        )
        return context


# --------------------------------------------------------------------------- passwords


class PasswordResetView(View):
    """Ask for a reset link by e-mail address; the answer is the same for any address."""

    template_name = "partners/password_reset.html"

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        partner = _partner(slug)
        return render(
            request,
            self.template_name,
            {"partner": partner, "form": forms.PasswordResetRequestForm()},
        )

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        partner = _partner(slug)
        form = forms.PasswordResetRequestForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"partner": partner, "form": form})
        services.request_password_reset(
            partner,
            form.cleaned_data["email"],
            language=_language(),
            client_address=client_address(request),
        )
        return redirect("partners:password-reset-sent", slug=partner.login_slug)


class PasswordResetSentView(TemplateView):
    template_name = "partners/password_reset_sent.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["partner"] = _partner(kwargs["slug"])
        return context


class _SetPasswordView(auth_views.PasswordResetConfirmView):
    """Django's reset view bound to one partner: the link only works for that partner's active
    people, once, until it expires (the token is moved into the session before the form)."""

    template_name = "partners/set_password.html"
    form_class = SetPasswordForm
    post_reset_login = False
    purpose = ""

    def dispatch(self, *args: Any, **kwargs: Any) -> HttpResponse:
        self.partner = _partner(kwargs["slug"])
        return super().dispatch(*args, **kwargs)

    def get_user(self, uidb64: str) -> User | None:
        user = super().get_user(uidb64)
        if user is None or not (_belongs(user, self.partner) and self.partner.can_log_in):
            return None
        return user

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(partner=self.partner, purpose=self.purpose)
        context["login_id"] = self.user.login_id if getattr(self, "user", None) else ""
        return context

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        user = form.user
        throttle.record_success(throttle.PASSWORD_ACCOUNT, throttle.account_key(user.login_id))
        record(
            "partner.password.set",
            actor=f"user:{user.login_id}",
            target=f"user:{user.login_id}",
            data={"via": self.purpose},
        )
        messages.success(self.request, _("Your password is set. You can log in now."))
        return response

    def get_success_url(self) -> str:
        return reverse("partners:login", kwargs={"slug": self.partner.login_slug})


class InvitationView(_SetPasswordView):
    token_generator = invitation_tokens
    purpose = "invitation"


class PasswordResetConfirmView(_SetPasswordView):
    token_generator = reset_tokens
    purpose = "reset"
