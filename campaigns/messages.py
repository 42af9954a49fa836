"""What each shopper of a campaign run gets, and when: the variant, the rendered content, the send time."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from audience.models import ShopperProfile
from audience.selectors import Member
from campaigns.models import Campaign, CampaignRun, ScheduleKind
from campaigns.variants import Arm, assign
from notifications.engine import Content, NewNotification
from notifications.models import Source
from preferences.selectors import preferences_for, zone_of
from templates.models import MessageTemplate
from templates.rendering import RenderError, render_content

_USES_USER = re.compile(r"\buser\.")


def notifications_for(run: CampaignRun, members: list[Member]) -> list[NewNotification]:
    campaign = run.campaign
    arms = arms_of(campaign)
    templates = {arm.name: template for arm, template in arms}
    shared = {
        name: render_for(campaign, template, None)
        for name, template in templates.items()
        if not _USES_USER.search(_sources(template))
    }
    profiles = {}
    if len(shared) < len(templates):  # some template speaks of the shopper: their attributes are needed
        profiles = dict(
            ShopperProfile.objects.filter(user_id__in=[m.user_id for m in members]).values_list("user_id", "attributes")
        )
    zones = _zones(members) if campaign.schedule == ScheduleKind.LOCAL else {}
    weights = [arm for arm, _ in arms]
    result = []
    for member in members:
        name = assign(campaign.pk, member.user_id, weights) if len(weights) > 1 else weights[0].name
        rendered = shared.get(name) or render_for(
            campaign, templates[name], member.user_id, profiles.get(member.user_id)
        )
        content, failure = rendered
        result.append(
            NewNotification(
                member.user_id,
                content,
                Source.CAMPAIGN,
                source_ref=str(run.pk),
                send_at=_local_send_at(campaign, zones[member.user_id]) if zones else None,
                failure=failure,
                variant=name if len(weights) > 1 else "",
            )
        )
    return result


def arms_of(campaign: Campaign) -> list[tuple[Arm, MessageTemplate]]:
    variants = list(campaign.variants.select_related("template").prefetch_related("template__translations"))
    if variants:
        return [(Arm(v.name, v.weight), v.template) for v in variants]
    template = MessageTemplate.objects.prefetch_related("translations").get(pk=campaign.template_id)
    return [(Arm("", 1), template)]


def _sources(template: MessageTemplate) -> str:
    parts = [template.title, template.body, template.image, template.deep_link, str(template.data)]
    parts += [f"{t.title} {t.body} {t.image} {t.deep_link}" for t in template.translations.all()]
    return " ".join(parts)


def render_for(
    campaign: Campaign, template: MessageTemplate, user_id: str | None, attributes: dict | None = None
) -> tuple[Content, str]:
    """The content for one variant (rendered once) or one shopper; a render failure becomes a failed notification."""
    context = dict(campaign.context or {})
    if attributes:
        context["user"] = dict(attributes)
    try:
        content = render_content(
            template, context, user_id=user_id or "", translations=list(template.translations.all())
        )
    except RenderError as exc:
        empty = Content(title="", body="", category=template.category, template_key=template.key)
        return empty, f"Template '{template.key}' could not be rendered for this shopper: {exc}"
    caps = ((86400, campaign.max_per_user_per_day),) if campaign.max_per_user_per_day else ()
    return replace(content, frequency_caps=caps), ""


def _zones(members: list[Member]) -> dict[str, str]:
    preferences = preferences_for(m.user_id for m in members)
    return {m.user_id: preferences[m.user_id].timezone or m.timezone for m in members}


def _local_send_at(campaign: Campaign, zone_name: str) -> datetime:
    """The campaign's day and time of day in the shopper's own zone, as an instant."""
    local = datetime.combine(campaign.local_date, campaign.local_time, tzinfo=zone_of(zone_name))
    return local.astimezone(UTC)


def earliest_local_start(campaign: Campaign) -> datetime:
    """When the first time zone reaches the campaign's local time (UTC+14): the run starts then."""
    return datetime.combine(campaign.local_date, campaign.local_time, tzinfo=UTC) - timedelta(hours=14)
