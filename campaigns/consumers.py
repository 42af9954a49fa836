"""The WebSocket an open campaign page listens on: progress and results pushed by the beat's broadcast."""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from campaigns.models import Campaign
from campaigns.progress import WATCH_REFRESH_SECONDS, group_name, results_wanted, snapshot, watch


class CampaignProgressConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        self.campaign_id = int(self.scope["url_route"]["kwargs"]["campaign_id"])
        allowed = user is not None and user.is_active and user.is_staff
        allowed = allowed and await database_sync_to_async(user.has_perm)("campaigns.view_campaign")
        current = await database_sync_to_async(self._current)() if allowed else None
        if current is None:
            await self.close(code=4403)
            return
        self.group = group_name(self.campaign_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json(current)
        # The page was rendered with the results of its moment; what changed since (or while it was reconnecting)
        # comes with the beat's next count, shared with every other page of the campaign.
        await database_sync_to_async(results_wanted)(self.campaign_id)
        self.watching = asyncio.create_task(self._keep_watching())

    async def _keep_watching(self) -> None:
        # The beat counts a campaign's progress only while a page watches it (progress.broadcast).
        while True:
            await database_sync_to_async(watch)(self.campaign_id)
            await asyncio.sleep(WATCH_REFRESH_SECONDS)

    def _current(self) -> dict | None:
        campaign = Campaign.objects.filter(pk=self.campaign_id).first()
        return snapshot(campaign).as_message() if campaign else None

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "watching"):
            self.watching.cancel()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def progress(self, event: dict) -> None:
        await self.send_json(event["progress"])

    async def results(self, event: dict) -> None:
        await self.send_json({"results": event["results"]})
