"""Template helpers for the project-wide layout (``{% load keiin_ui %}``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from typing import Any

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse, translate_url
from django.utils.translation import get_language, get_language_info, override

register = template.Library()


@dataclass(frozen=True)
class LanguageLink:
    """A link to the current page in one language."""

    code: str
    name: str
    url: str
    current: bool


def _url_in(request: Any, code: str) -> str:
    """The current page's address in language ``code``; the repository index as fallback."""
    if request is not None and getattr(request, "resolver_match", None) is not None:
        path = request.get_full_path()
        translated = translate_url(path, code)
        if translated != path or code == get_language():
            return translated
    try:
        with override(code):
            return reverse("repository:index")
    except NoReverseMatch:
        return "/"


@register.simple_tag(takes_context=True)
def language_links(context: template.Context) -> list[LanguageLink]:
    """One link per configured language to this same page (plain links: no JavaScript,
    no cookie; the unprefixed URL is always Japanese, ``/en/…`` always English)."""
    request = context.get("request")
    current = get_language()
    links = []
    for code, _label in settings.LANGUAGES:
        info = get_language_info(code)
        links.append(
            LanguageLink(code, info["name_local"], _url_in(request, code), code == current)
        )
    return links


@cache
def _fingerprint(path: str) -> str:
    try:
        data = (settings.BASE_DIR / "static" / path).read_bytes()
    except OSError:
        return ""
    return hashlib.sha256(data).hexdigest()[:12]


@register.simple_tag
def asset(path: str) -> str:
    """The URL of a file in ``web/static`` with a content hash, e.g. ``…/keiin.css?v=1a2b…``.

    The static files are served with a one-day ``max-age``; the hash makes browsers fetch
    the new file right after an upgrade instead of using yesterday's copy.
    """
    url = static(path)
    version = _fingerprint(path)
    return f"{url}?v={version}" if version else url
