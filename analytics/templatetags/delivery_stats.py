"""The admin index's success-rate card (config/templates/admin/index.html), read from the hourly rollups."""

from django import template

from analytics.selectors import SuccessRate, success_rates

register = template.Library()


@register.simple_tag
def delivery_success_rates() -> list[SuccessRate]:
    return success_rates()
