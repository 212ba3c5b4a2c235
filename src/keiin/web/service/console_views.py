"""Operator console pages: service hours, maintenance windows and notices (staff only).

Every change is a CSRF-checked POST, saved together with its audit event in one transaction.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from keiin.web.audit.log import record
from keiin.web.console.views import StaffMixin
from keiin.web.repository.models import Notice
from keiin.web.service import forms
from keiin.web.service.hours import current_status, stored_weekly
from keiin.web.service.models import MaintenanceWindow, ServiceSchedule
from keiin.web.service.notices import MailReport, recipients, send_notice

#: How many finished maintenance windows the page still lists.
PAST_WINDOWS = 10


def _actor(request: HttpRequest) -> str:
    return f"console:{request.user.login_id}"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _report_mail(request: HttpRequest, report: MailReport) -> None:
    if report.sent:
        messages.success(
            request,
            _("The notice was e-mailed to %(count)d people.") % {"count": len(report.sent)},
        )
    if report.failed:
        messages.warning(
            request,
            _("E-mail could not be sent to: %(addresses)s. Check the mail settings and send again.")
            % {"addresses": ", ".join(report.failed)},
        )
    if not report.sent and not report.failed:
        messages.info(request, _("Everyone has received this notice already."))


class ServiceHoursView(StaffMixin, View):
    """The weekly schedule, the current state and the maintenance windows."""

    template_name = "service/console/hours.html"

    def _render(
        self,
        request: HttpRequest,
        weekly_form: forms.WeeklyHoursForm | None = None,
        window_form: forms.MaintenanceWindowForm | None = None,
    ) -> HttpResponse:
        now = timezone.now()
        weekly = stored_weekly()
        context = {
            "status": current_status(now),
            "weekly": weekly,
            "weekly_form": weekly_form or forms.WeeklyHoursForm(weekly=weekly),
            "window_form": window_form or forms.MaintenanceWindowForm(),
            "windows": MaintenanceWindow.objects.filter(end__gt=now).order_by("start", "id"),
            "past_windows": MaintenanceWindow.objects.filter(end__lte=now).order_by("-end")[
                :PAST_WINDOWS
            ],
            "now": now,
        }
        status = 400 if (weekly_form or window_form) else 200
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "")
        if action == "weekly":
            form = forms.WeeklyHoursForm(request.POST)
            if not form.is_valid():
                return self._render(request, weekly_form=form)
            weekly = form.cleaned_data["weekly"]
            value = weekly.to_json() if weekly is not None else None
            with transaction.atomic():
                ServiceSchedule.objects.update_or_create(
                    pk=1, defaults={"weekly": value, "updated_by": _actor(request)}
                )
                record(
                    "service.hours.changed",
                    actor=_actor(request),
                    target="service:hours",
                    data={"weekly": value},
                )
            if weekly is not None and not weekly.ever_open:
                messages.warning(
                    request, _("Every day is closed: partners cannot use the service at all.")
                )
            messages.success(request, _("The service hours are saved."))
        elif action == "window-add":
            form = forms.MaintenanceWindowForm(request.POST)
            if not form.is_valid():
                return self._render(request, window_form=form)
            data = form.cleaned_data
            with transaction.atomic():
                window = MaintenanceWindow.objects.create(
                    start=data["start"],
                    end=data["end"],
                    reason_ja=data["reason_ja"],
                    reason_en=data["reason_en"],
                    created_by=_actor(request),
                )
                record(
                    "service.maintenance.added",
                    actor=_actor(request),
                    target=f"maintenance:{window.pk}",
                    data={
                        "start": _iso(window.start),
                        "end": _iso(window.end),
                        "reason": window.reason_ja,
                    },
                )
            messages.success(request, _("The maintenance window is added."))
        elif action == "window-end":
            self._end_window(request, request.POST.get("window", ""))
        else:
            messages.error(request, _("Unknown action."))
        return redirect("console:service")

    def _end_window(self, request: HttpRequest, pk: str) -> None:
        """Remove a planned window, or end a running one now; finished ones stay."""
        now = timezone.now()
        with transaction.atomic():
            window = (
                MaintenanceWindow.objects.select_for_update()
                .filter(pk=int(pk) if pk.isdigit() else 0, end__gt=now)
                .first()
            )
            if window is None:
                messages.error(request, _("No such planned or running maintenance window."))
                return
            data = {"start": _iso(window.start), "end": _iso(window.end)}
            if window.start > now:
                target = f"maintenance:{window.pk}"
                window.delete()
                record(
                    "service.maintenance.removed", actor=_actor(request), target=target, data=data
                )
                messages.success(request, _("The planned maintenance window is removed."))
            else:
                window.end = now
                window.save(update_fields=["end"])
                record(
                    "service.maintenance.ended",
                    actor=_actor(request),
                    target=f"maintenance:{window.pk}",
                    data={**data, "ended": _iso(now)},
                )
                messages.success(request, _("The maintenance is ended: partner pages are open."))


# --------------------------------------------------------------------------- notices


def _notice_data(notice: Notice) -> dict[str, Any]:
    return {
        "kind": notice.kind,
        "title": notice.title_ja,
        "published": notice.is_published,
        "published_at": _iso(notice.published_at),
        "effective_from": _iso(notice.effective_from),
        "effective_until": _iso(notice.effective_until),
    }


class NoticeListView(StaffMixin, View):
    """Every notice, newest first, with how many people received it by e-mail."""

    template_name = "service/console/notices.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = Notice.objects.annotate(mailed=Count("deliveries")).order_by("-published_at", "-id")
        context = {"notices": rows, "now": timezone.now(), "recipients": recipients().count()}
        return render(request, self.template_name, context)


class NoticeEditView(StaffMixin, View):
    """Create (no ``pk``) or edit a notice; optionally e-mail it on saving."""

    template_name = "service/console/notice.html"

    def _render(
        self, request: HttpRequest, notice: Notice | None, form: forms.NoticeForm, status: int
    ) -> HttpResponse:
        context = {
            "notice": notice,
            "form": form,
            "deliveries": notice.deliveries.count() if notice else 0,
            "recipients": recipients().count(),
        }
        return render(request, self.template_name, context, status=status)

    def _notice(self, pk: int | None) -> Notice | None:
        return get_object_or_404(Notice, pk=pk) if pk is not None else None

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        notice = self._notice(pk)
        mailed = bool(notice and notice.deliveries.exists())
        form = forms.NoticeForm(instance=notice, already_mailed=mailed)
        return self._render(request, notice, form, 200)

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        notice = self._notice(pk)
        mailed = bool(notice and notice.deliveries.exists())
        form = forms.NoticeForm(request.POST, instance=notice, already_mailed=mailed)
        if not form.is_valid():
            return self._render(request, notice, form, 400)
        with transaction.atomic():
            saved = form.save()
            record(
                "notice.created" if notice is None else "notice.changed",
                actor=_actor(request),
                target=f"notice:{saved.pk}",
                data=_notice_data(saved),
            )
        messages.success(request, _("The notice is saved."))
        if form.cleaned_data.get("send_mail"):
            _report_mail(request, send_notice(saved, actor=_actor(request)))
        return redirect("console:notice", pk=saved.pk)


class NoticeMailView(StaffMixin, View):
    """E-mail a published notice to the people who have not received it yet."""

    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        notice = get_object_or_404(Notice, pk=pk)
        if not notice.is_published or notice.published_at > timezone.now():
            messages.error(request, _("Only a published notice can be e-mailed."))
        else:
            _report_mail(request, send_notice(notice, actor=_actor(request)))
        return redirect("console:notice", pk=notice.pk)
