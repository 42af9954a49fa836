"""Least privilege (issue 17, items 9 and 11): each role reaches only what it needs, campaigns can't send
transactional templates past shopper protection, and app tokens can't live forever."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from accounts import roles
from audience.models import Segment
from campaigns import services
from campaigns.forms import CampaignForm
from campaigns.models import Campaign
from preferences.models import FrequencyCap
from templates.models import MessageTemplate
from tests.staff import staff

pytestmark = pytest.mark.django_db


def test_marketers_reach_neither_the_shopper_page_nor_push_tokens(client):
    client.force_login(staff(roles.MARKETERS))
    assert client.get("/admin/shopper/", {"user_id": "ana"}).status_code == 403
    assert client.get("/admin/devices/device/").status_code == 403
    assert "Look up a shopper" not in client.get("/admin/").content.decode()
    client.force_login(staff(roles.SUPPORT))
    assert client.get("/admin/shopper/", {"user_id": "ana"}).status_code == 200
    assert "Look up a shopper" in client.get("/admin/").content.decode()


def test_marketers_cannot_loosen_the_global_frequency_caps(client):
    cap = FrequencyCap.objects.get(window=timedelta(days=1))
    client.force_login(staff(roles.MARKETERS))
    client.post(
        "/admin/preferences/frequencycap/",
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": cap.pk,
            "form-0-max_pushes": "50",
            "form-0-window": "1 00:00:00",
            "form-0-is_active": "on",
            "_save": "Save",
        },
    )
    cap.refresh_from_db()
    assert cap.max_pushes == 2


def test_an_administrator_cannot_make_themselves_superuser(client):
    administrator = staff(roles.ADMINISTRATORS)
    client.force_login(administrator)
    url = f"/admin/auth/user/{administrator.pk}/change/"
    form = client.get(url).context["adminform"].form
    assert "is_superuser" not in form.fields and "user_permissions" not in form.fields  # shown read-only
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update(is_staff="on", is_active="on", groups=[g.pk for g in administrator.groups.all()], is_superuser="on")
    client.post(url, {k: v for k, v in data.items() if v is not None})
    administrator.refresh_from_db()
    assert not administrator.is_superuser
    boss = User.objects.create_superuser("boss", password="pw-for-tests")
    assert client.get(f"/admin/auth/user/{boss.pk}/change/").context["has_change_permission"] is False


def test_a_campaign_cannot_send_a_transactional_template():
    order_update = MessageTemplate.objects.create(
        key="sneaky", name="sneaky", category="order_updates", priority="high", title="50% off!", body="Today only."
    )
    campaign = Campaign.objects.create(
        name="Promotion as an order update", template=order_update, segment=Segment.objects.create(name="all")
    )
    with pytest.raises(ValidationError) as refused:
        services.launch(campaign)
    assert "marketing categories only" in str(refused.value.message_dict["template"])
    choices = CampaignForm().fields["template"].queryset  # what the admin offers
    assert choices.exists() and not choices.filter(pk=order_update.pk).exists()


def test_an_app_token_valid_for_a_century_is_refused():
    now = int(time.time())
    claims = {"sub": "ana", "iss": settings.JWT_ISSUER, "aud": settings.JWT_AUDIENCE, "iat": now}
    client = APIClient()
    for lifetime, status in [(100 * 365 * 24 * 3600, 401), (3600, 200)]:
        token = jwt.encode({**claims, "exp": now + lifetime}, settings.JWT_SECRET, algorithm="HS256")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert client.get("/api/v1/devices/").status_code == status
