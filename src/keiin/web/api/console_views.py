"""Console pages for the REST API: API keys and webhooks.

Contract managers create keys and webhooks (a key acts as the manager who created it); any
operator staff member may revoke a key or disable a webhook — stopping a leaked credential
must not wait for a particular person. Secrets are shown once, on the page answering the
creation, which is never cached.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from keiin.web.api import keys, webhooks
from keiin.web.api.forms import ApiKeyForm, WebhookForm
from keiin.web.api.models import ApiKey, Webhook
from keiin.web.console.views import StaffMixin

RECENT_DELIVERIES = 50


def _actor(request: HttpRequest) -> str:
    return f"user:{request.user.login_id}"


def _require_manager(request: HttpRequest) -> None:
    if not keys.may_create(request.user):
        raise PermissionDenied


def _secret_page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    response = render(request, template, context)
    response["Cache-Control"] = "no-store"
    return response


class ApiKeysView(StaffMixin, View):
    """``/console/api-keys/``: every key, a new one (contract managers), revocation."""

    def _render(self, request: HttpRequest, form: ApiKeyForm | None = None) -> HttpResponse:
        context = {
            "api_keys": ApiKey.objects.select_related("owner").prefetch_related("partners"),
            "form": form or ApiKeyForm(),
            "may_create": keys.may_create(request.user),
        }
        return render(request, "api/console/keys.html", context, status=400 if form else 200)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action")
        if action == "create":
            _require_manager(request)
            form = ApiKeyForm(request.POST)
            if not form.is_valid():
                return self._render(request, form)
            try:
                new = keys.create_key(
                    form.cleaned_data["name"],
                    request.user,
                    form.cleaned_data["partners"],
                    actor=_actor(request),
                )
            except keys.ApiKeyError as exc:
                form.add_error(None, str(exc))
                return self._render(request, form)
            return _secret_page(
                request, "api/console/key_created.html", {"key": new.row, "token": new.token}
            )
        if action == "revoke":
            key = ApiKey.objects.filter(pk=_int(request.POST.get("key"))).first()
            if key is None:
                return HttpResponse(_("No such API key."), status=400)
            if keys.revoke_key(key, actor=_actor(request)):
                messages.success(request, _("API key %(name)s revoked.") % {"name": key.name})
            else:
                messages.info(request, _("That key was already revoked."))
            return redirect("api:keys")
        return HttpResponse(_("Unknown action."), status=400)


class WebhooksView(StaffMixin, View):
    """``/console/webhooks/``: every webhook and a new one (contract managers)."""

    def _render(self, request: HttpRequest, form: WebhookForm | None = None) -> HttpResponse:
        context = {
            "webhooks": Webhook.objects.select_related("owner").prefetch_related("partners"),
            "form": form or WebhookForm(),
            "may_create": keys.may_create(request.user),
        }
        return render(request, "api/console/webhooks.html", context, status=400 if form else 200)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.POST.get("action") != "create":
            return HttpResponse(_("Unknown action."), status=400)
        _require_manager(request)
        form = WebhookForm(request.POST)
        if not form.is_valid():
            return self._render(request, form)
        data = form.cleaned_data
        try:
            new = webhooks.create_webhook(
                data["name"],
                data["url"],
                request.user,
                events=data["events"],
                partners=data["partners"],
                actor=_actor(request),
            )
        except webhooks.WebhookError as exc:
            form.add_error(None, str(exc))
            return self._render(request, form)
        return _secret_page(
            request, "api/console/webhook_created.html", {"webhook": new.row, "secret": new.secret}
        )


class WebhookView(StaffMixin, View):
    """``/console/webhooks/<pk>/``: one webhook, its recent deliveries; disable or enable."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        webhook = get_object_or_404(Webhook.objects.select_related("owner"), pk=pk)
        context = {
            "webhook": webhook,
            "deliveries": webhook.deliveries.order_by("-created_at", "-id")[:RECENT_DELIVERIES],
            "may_create": keys.may_create(request.user),
        }
        return render(request, "api/console/webhook.html", context)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        webhook = get_object_or_404(Webhook, pk=pk)
        action = request.POST.get("action")
        if action == "disable":
            webhooks.set_active(webhook, False, actor=_actor(request))
            messages.success(request, _("The webhook is disabled."))
        elif action == "enable":
            _require_manager(request)
            webhooks.set_active(webhook, True, actor=_actor(request))
            messages.success(request, _("The webhook is enabled."))
        else:
            return HttpResponse(_("Unknown action."), status=400)
        return redirect("api:webhook", pk=webhook.pk)


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None
