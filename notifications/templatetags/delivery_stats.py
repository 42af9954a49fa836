from django import template

from notifications.selectors import SuccessRate, success_rates

register = template.Library()


@register.simple_tag
def delivery_success_rates() -> list[SuccessRate]:
    return success_rates()
