"""Template helpers for the project-wide layout (``{% load keiin_ui %}``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template
from django.conf import settings
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
    if request is None:
        with override(code):
            return reverse("repository:index")
    path = request.get_full_path()
    if getattr(request, "resolver_match", None) is not None:
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
        links.append(LanguageLink(code, info["name_local"], _url_in(request, code), code == current))
    return links
