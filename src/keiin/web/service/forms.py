"""Console forms: the weekly schedule, maintenance windows and service notices."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from keiin.service_hours import DayHours, WeeklySchedule, format_clock, parse_clock
from keiin.web.repository.models import Notice

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
#: How far ahead a maintenance window may be planned, and how long one may last.
MAX_WINDOW_AHEAD = dt.timedelta(days=5 * 366)
MAX_WINDOW_LENGTH = dt.timedelta(days=366)


def _datetime_field(label: Any, *, required: bool = True, help_text: Any = "") -> Any:
    return forms.DateTimeField(
        label=label,
        required=required,
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=help_text,
    )


class ClockField(forms.CharField):
    """``HH:MM`` (``24:00`` allowed as the end of a day) → minutes after midnight."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"placeholder": "09:00", "size": 5, "maxlength": 5})
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int):
            return format_clock(value)
        return value

    def to_python(self, value: Any) -> int | None:
        text = super().to_python(value)
        if not text:
            return None
        try:
            return parse_clock(text)
        except ValueError:
            raise ValidationError(
                _("Enter a time as HH:MM, from 00:00 to 24:00."), code="invalid"
            ) from None


class WeeklyHoursForm(forms.Form):
    """A weekly schedule: per weekday opening and closing time, or closed.

    Field names ``<day>_closed``, ``<day>_opens``, ``<day>_closes`` for mon … sun.
    """

    DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

    enabled = forms.BooleanField(
        label=_("Limit partner access to these hours"),
        required=False,
        help_text=_(
            "Unchecked: partners can use the service at any time (maintenance windows apart)."
        ),
    )

    def __init__(self, *args: Any, weekly: WeeklySchedule | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for index, day in enumerate(self.DAYS):
            name = WEEKDAYS[index]
            for suffix, label, field_class in (
                ("closed", _("%(day)s: closed"), forms.BooleanField),
                ("opens", _("%(day)s: opens"), ClockField),
                ("closes", _("%(day)s: closes"), ClockField),
            ):
                text = label % {"day": name}
                field = field_class(label=text, required=False)
                field.widget.attrs["aria-label"] = text  # the table shows no <label>
                self.fields[f"{day}_{suffix}"] = field
        if not self.is_bound:
            self.initial["enabled"] = weekly is not None
            days = weekly.days if weekly is not None else (DayHours(9 * 60, 18 * 60),) * 7
            for key, day in zip(self.DAYS, days, strict=True):
                self.initial[f"{key}_closed"] = day is None
                if day is not None:
                    self.initial[f"{key}_opens"] = day.opens
                    self.initial[f"{key}_closes"] = day.closes

    def day_rows(self) -> list[tuple[str, Any, Any, Any]]:
        """(weekday name, closed, opens, closes) bound fields for the template."""
        return [
            (WEEKDAYS[i], self[f"{d}_closed"], self[f"{d}_opens"], self[f"{d}_closes"])
            for i, d in enumerate(self.DAYS)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("enabled"):
            data["weekly"] = None
            return data
        days: list[DayHours | None] = []
        for key in self.DAYS:
            if data.get(f"{key}_closed"):
                days.append(None)
                continue
            opens, closes = data.get(f"{key}_opens"), data.get(f"{key}_closes")
            if f"{key}_opens" in self.errors or f"{key}_closes" in self.errors:
                days.append(None)
                continue
            if opens is None or closes is None:
                self.add_error(f"{key}_opens", _("Give both times, or mark the day as closed."))
                days.append(None)
                continue
            if opens == 24 * 60:
                self.add_error(f"{key}_opens", _("A day cannot open at 24:00."))
                days.append(None)
                continue
            if opens == closes or (closes == 0 and opens == 0):
                self.add_error(
                    f"{key}_closes",
                    _("Opening and closing time are the same; for a whole day use 00:00–24:00."),
                )
                days.append(None)
                continue
            days.append(DayHours(opens, closes if closes else 24 * 60))
        if not self.errors:
            data["weekly"] = WeeklySchedule.from_days(days)
        return data


class MaintenanceWindowForm(forms.Form):
    """A period in which partner pages are closed (times in Asia/Tokyo)."""

    start = _datetime_field(_("Start"))
    end = _datetime_field(_("End"))
    reason_ja = forms.CharField(label=_("Reason (Japanese)"), max_length=300)
    reason_en = forms.CharField(label=_("Reason (English)"), max_length=300, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            return data
        now = timezone.now()
        if end <= start:
            self.add_error("end", _("The end must be after the start."))
        elif end <= now:
            self.add_error("end", _("This period is already over."))
        elif end - start > MAX_WINDOW_LENGTH:
            self.add_error("end", _("A maintenance window lasts at most a year."))
        elif start > now + MAX_WINDOW_AHEAD:
            self.add_error("start", _("Plan maintenance at most five years ahead."))
        return data


def _same_minute(a: dt.datetime | None, b: dt.datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.replace(second=0, microsecond=0) == b.replace(second=0, microsecond=0)


def _single_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValidationError(_("A title is one line."), code="multiline")
    return value


class NoticeForm(forms.ModelForm):
    """A notice for the repository (and, for service notices, partners' login pages and mail).

    The terms (clause 17) require suspension and end of the service to be announced at least
    90 days ahead, and by a notice sent to the partners: both are checked here.
    """

    send_mail = forms.BooleanField(
        label=_("E-mail this notice to every partner user now"),
        required=False,
        initial=True,
        help_text=_(
            "Only once it is published. Suspension and end-of-service notices must be e-mailed."
        ),
    )

    class Meta:
        model = Notice
        fields = [
            "kind",
            "title_ja",
            "title_en",
            "body_ja",
            "body_en",
            "effective_from",
            "effective_until",
            "published_at",
            "is_published",
        ]
        field_classes = {
            "effective_from": forms.DateTimeField,
            "effective_until": forms.DateTimeField,
            "published_at": forms.DateTimeField,
        }
        widgets = {
            "body_ja": forms.Textarea(attrs={"rows": 6}),
            "body_en": forms.Textarea(attrs={"rows": 6}),
        }

    def __init__(self, *args: Any, already_mailed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.already_mailed = already_mailed
        for name in ("effective_from", "effective_until", "published_at"):
            field = self.fields[name]
            field.input_formats = DATETIME_FORMATS
            field.widget = forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            )
        self.fields["effective_from"].help_text = _(
            "Maintenance and suspension: when it starts. End of the service: when it ends."
        )
        self.fields["effective_until"].help_text = _(
            "Maintenance (required) and suspension (optional): when it ends."
        )
        self.fields["published_at"].help_text = _("Shown from this time on.")
        if already_mailed:
            self.fields["send_mail"].initial = False
            self.fields["send_mail"].label = _(
                "E-mail this notice to partner users who have not received it yet"
            )

    def clean_title_ja(self) -> str:
        return _single_line(self.cleaned_data["title_ja"])

    def clean_title_en(self) -> str:
        return _single_line(self.cleaned_data["title_en"])

    def _announcement_checked(self, data: dict[str, Any]) -> bool:
        """Whether the 90-day rule applies to this save: new notices, and changes to the
        kind, the date announced, the publication time or state (fixing a typo later does not
        re-open the question). Times are compared to the minute, as the form shows them."""
        old = self.instance
        if old.pk is None:
            return True
        return (
            data.get("kind") != old.kind
            or bool(data.get("is_published")) != old.is_published
            or not _same_minute(data.get("effective_from"), old.effective_from)
            or not _same_minute(data.get("published_at"), old.published_at)
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        start, until = data.get("effective_from"), data.get("effective_until")
        published_at = data.get("published_at")
        now = timezone.now()
        if kind is None:
            return data
        if kind == Notice.Kind.GENERAL:
            if start or until:
                self.add_error(
                    "effective_from", _("A general notice announces no period; leave it empty.")
                )
        elif start is None:
            self.add_error("effective_from", _("Give the date and time this notice is about."))
        if kind == Notice.Kind.MAINTENANCE and start and until is None:
            self.add_error("effective_until", _("Give the end of the maintenance."))
        if kind == Notice.Kind.END_OF_SERVICE and until is not None:
            self.add_error(
                "effective_until", _("The end of the service has no end date; leave it empty.")
            )
        if start and until and until <= start:
            self.add_error("effective_until", _("The end must be after the start."))
        if (
            kind in Notice.ADVANCE_NOTICE_KINDS
            and start is not None
            and published_at is not None
            and self._announcement_checked(data)
        ):
            announced = max(published_at, now)
            if start < announced + Notice.ADVANCE_NOTICE:
                earliest = timezone.localtime(announced + Notice.ADVANCE_NOTICE)
                self.add_error(
                    "effective_from",
                    _(
                        "The terms require %(days)d days' notice: announced now, this can take "
                        "effect on %(earliest)s at the earliest."
                    )
                    % {
                        "days": Notice.ADVANCE_NOTICE.days,
                        "earliest": earliest.strftime("%Y-%m-%d %H:%M"),
                    },
                )
        send = data.get("send_mail")
        is_published = bool(data.get("is_published"))
        if kind in Notice.ADVANCE_NOTICE_KINDS and is_published and published_at is not None:
            if published_at > now:
                self.add_error(
                    "published_at",
                    _(
                        "Suspension and end-of-service notices are announced by e-mail when "
                        "they are published: publish them now, or save them unpublished."
                    ),
                )
            elif self.instance.pk is None or not self.instance.is_published:
                data["published_at"] = now  # announced now, whatever the form said
            if not send and not self.already_mailed:
                self.add_error(
                    "send_mail",
                    _("Suspension and end-of-service notices must be e-mailed to partners."),
                )
        if send and not is_published:
            self.add_error("send_mail", _("Only a published notice can be e-mailed."))
        elif send and published_at is not None and published_at > now:
            self.add_error(
                "send_mail",
                _(
                    "This notice is published later: save it without e-mail and send it from "
                    "its page once it is published."
                ),
            )
        return data
