"""Template filters of the driver portal: headlines and badges for statuses and events."""

from django import template

from drivers import texts
from drivers.models import DriverEvent

register = template.Library()


@register.filter
def headline(event: DriverEvent) -> str:
    return texts.event_headline(event)


@register.filter
def status_label(status: str) -> str:
    return texts.STATUS_LABELS.get(status, status)


@register.filter
def status_badge(status: str) -> str:
    return texts.STATUS_BADGES.get(status, "")


@register.filter
def status_explanation(status: str) -> str:
    return texts.STATUS_EXPLANATIONS.get(status, "")
