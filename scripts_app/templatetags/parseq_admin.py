"""Filters for the Parseq admin templates (thin wrappers over scripts_app.admin.display)."""

from django import template

from scripts_app.admin import display

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
