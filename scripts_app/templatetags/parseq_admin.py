"""Filters for the Parseq admin templates (thin wrappers over scripts_app.admin.display)."""

from django import template
from django.utils.html import json_script

from scripts_app.admin import display
from scripts_app.jobs import slugs

register = template.Library()


@register.filter
def status_badge(status):
    return display.status_badge(status)


@register.filter
def relative(value):
    return display.relative_time(value)


@register.filter
def elapsed(execution):
    return display.format_duration(display.elapsed(execution))


@register.simple_tag
def slug_letters():
    """The server's transliteration table, for the slug the admin fills in from the name
    (static/scripts_app/slugs.js), so the browser spells a name as jobs/slugs.py does."""
    return json_script(slugs.CYRILLIC, "parseq-slug-letters")
