"""What launching, pausing or cancelling a campaign would do, read without changing anything.

The launch review judges a sample of the audience with the sender's own decisions (campaigns.messages builds the
notifications as a run would, protection.policy.judge decides them in a dry run: the same opt-outs, quiet
hours, frequency caps and de-duplication, with nothing counted against a cap and no row written), so its
held-back numbers are what the sender would decide if it sent now, not a guess. Its cost is bounded: the audience
is counted in PostgreSQL, and at most SAMPLE_LIMIT shoppers (the first ones by user id, keyset pages) are judged.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from audience.selectors import AudienceSize, audience_page, audience_size, devices_by_platform
from campaigns import batches
from campaigns.describe import duration_in_words, pace_in_words, schedule_in_words
from campaigns.fanout import PAGE_SIZE
from campaigns.messages import arms_of, notifications_for
from campaigns.models import Campaign, CampaignRun, CampaignStatus, RunStatus, ScheduleKind
from campaigns.services import with_sample_user
from devices.models import Platform
from devices.token_cache import tokens_for_users
from notifications.engine import Pending  # what the sender judges, built the same way
from notifications.models import Notification, NotificationStatus, Source
from protection import policy
from protection.outcomes import PolicyOutcome
from templates.models import MessageTemplate
from templates.preview import preview_saved

SAMPLE_LIMIT = 2000

# Why the sender would hold a shopper's push back, in the marketer's words; the first three are always shown.
HELD_BACK_REASONS: list[tuple[str, str]] = [
    (PolicyOutcome.QUIET_HOURS, "In their quiet hours now: sent when those end"),
    (PolicyOutcome.CAPPED, "Over a frequency cap: not sent"),
    (PolicyOutcome.OPTED_OUT, "Switched this category off: not sent"),
    (PolicyOutcome.QUIET_HOURS_EXPIRED, "In quiet hours that outlast the push's lifetime: not sent"),
    (PolicyOutcome.DUPLICATE, "Got the same push recently: not sent"),
]
ALWAYS_SHOWN = {PolicyOutcome.QUIET_HOURS, PolicyOutcome.CAPPED, PolicyOutcome.OPTED_OUT}


@dataclass(frozen=True)
class HeldBack:
    reason: str  # PolicyOutcome
    label: str
    sampled: int  # shoppers of the sample
    estimated: int  # over the whole audience (the same as sampled when the sample is the audience)


@dataclass(frozen=True)
class VariantPreview:
    name: str  # "" without A/B variants
    share: float  # of the audience, by weight
    template: MessageTemplate
    lifetime: str  # the template's TTL in words
    request: dict[str, Any]  # the preview endpoint's body for this variant (another language: the same, with locale)
    preview: dict[str, Any]  # the endpoint's answer for the default language

    @property
    def data(self) -> dict[str, Any]:
        """For the page's script: the answer to show, and the request to repeat for another language."""
        return {"request": self.request, "preview": self.preview}


@dataclass(frozen=True)
class LaunchReview:
    audience: AudienceSize
    platforms: list[tuple[str, int]]  # (label, active devices), every platform
    sample: int  # shoppers judged
    whole: bool  # the sample is the whole audience
    sent: HeldBack  # would be sent now (reason "", for the same sampled/estimated shape)
    held_back: list[HeldBack]
    not_made: int  # sampled shoppers whose push could not be rendered (their attributes) or who lost their devices
    schedule: str
    pace: str
    variants: list[VariantPreview]
    judged_at: datetime


def launch_review(campaign: Campaign, *, now: datetime | None = None, sample_limit: int = SAMPLE_LIMIT) -> LaunchReview:
    """The saved campaign's launch, as it would go if sent now. Reads only: PostgreSQL, the token cache
    (without filling it) and the caps in Redis (a dry run)."""
    now = now or timezone.now()
    segment = campaign.segment
    size = audience_size(segment)
    by_platform = devices_by_platform(segment)
    members = _sample(campaign, sample_limit)
    # Built exactly as a run's batch builds them (variants, rendering, the campaign's own cap); judged as if sent
    # now, so a local-time campaign's own send times don't move the quiet hours asked about.
    items = notifications_for(CampaignRun(campaign=campaign), members)
    pending = [Pending(-index, replace(item, send_at=None), now) for index, item in enumerate(items, 1)]
    made = [p for p, item in zip(pending, items, strict=True) if not item.failure]
    devices = tokens_for_users((p.user_id for p in made), fill=False)
    reachable = [p for p in made if devices.get(p.user_id)]
    verdicts = policy.judge(reachable, devices, now=now, dry_run=True)
    held = Counter(v.policy for v in verdicts.values() if v.action != policy.Action.SEND)
    sampled_sent = sum(1 for v in verdicts.values() if v.action == policy.Action.SEND)
    whole = len(members) >= size.users

    def counted(reason: str, label: str, sampled: int) -> HeldBack:
        estimated = sampled if whole or not members else round(sampled * size.users / len(members))
        return HeldBack(reason, label, sampled, estimated)

    return LaunchReview(
        audience=size,
        platforms=[(label, by_platform.get(value, 0)) for value, label in Platform.choices],
        sample=len(members),
        whole=whole,
        sent=counted("", "Sent now", sampled_sent),
        held_back=[
            counted(reason, label, held[reason])
            for reason, label in HELD_BACK_REASONS
            if reason in ALWAYS_SHOWN or held[reason]
        ],
        not_made=len(items) - len(reachable),
        schedule=schedule_in_words(campaign, now=now),
        pace=pace_in_words(campaign.throttle_per_minute, size.users),
        variants=variant_previews(campaign),
        judged_at=now,
    )


def _sample(campaign: Campaign, limit: int) -> list:  # type: ignore[type-arg]
    """The first `limit` shoppers of the audience, a keyset page at a time (the fan-out's own query)."""
    members: list = []  # type: ignore[type-arg]
    cursor = ""
    while len(members) < limit:
        wanted = min(PAGE_SIZE, limit - len(members))
        page = audience_page(campaign.segment, after=cursor, limit=wanted)
        members.extend(page)
        if len(page) < wanted:
            break
        cursor = page[-1].user_id
    return members


def variant_previews(campaign: Campaign) -> list[VariantPreview]:
    """Each variant (or the one template) rendered with the campaign's context, as the preview endpoint would."""
    arms = arms_of(campaign)
    total = sum(arm.weight for arm, _ in arms) or 1
    found = []
    for arm, template in arms:
        request = {"template_id": template.pk, "context": with_sample_user(dict(campaign.context or {}), template)}
        found.append(
            VariantPreview(
                name=arm.name,
                share=arm.weight / total,
                template=template,
                lifetime=duration_in_words(template.ttl_seconds),
                request=request,
                preview=preview_saved(request),
            )
        )
    return found


@dataclass(frozen=True)
class Outstanding:
    """A campaign's shoppers not sent yet: what Pause holds and Cancel withdraws."""

    queued: int  # stored and waiting (batches, local-time pushes): Pause lets these go; Cancel withdraws them
    not_reached: int  # in the segment, not yet reached by the fan-out (or by any run, before one starts)
    recurring: bool  # future runs too

    @property
    def total(self) -> int:
        return self.queued + self.not_reached


def outstanding(campaign: Campaign) -> Outstanding:
    """Counted now: the waiting batches and pushes of the campaign's live runs, and the audience after each run's
    cursor (the whole audience while no run has started)."""
    runs = list(campaign.runs.filter(status__in=[RunStatus.SENDING, RunStatus.PAUSED]))
    recurring = campaign.schedule == ScheduleKind.RECURRING
    if not runs:
        starts = campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.PAUSED)
        users = audience_size(campaign.segment).users if starts and campaign.segment_id else 0
        return Outstanding(0, users, recurring)
    ids = [run.pk for run in runs]
    waiting = Notification.objects.filter(
        Q(status=NotificationStatus.PENDING) | Q(status=NotificationStatus.SCHEDULED),
        source=Source.CAMPAIGN,
        source_ref__in=[str(pk) for pk in ids],
    ).count()
    not_reached = sum(
        audience_size(campaign.segment, after=run.cursor or None).users
        for run in runs
        if not run.fanned_out_at and campaign.segment_id
    )
    return Outstanding(batches.waiting_shoppers(ids) + waiting, not_reached, recurring)
