"""From the device registry's targets to the providers' requests."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from devices.selectors import DeviceTarget
from providers.base import PushMessage, PushTarget, SendRequest


def requests_by_provider(
    devices: Iterable[DeviceTarget], message: PushMessage
) -> dict[str, list[tuple[DeviceTarget, SendRequest]]]:
    grouped: dict[str, list[tuple[DeviceTarget, SendRequest]]] = defaultdict(list)
    for device in devices:
        target = PushTarget(device.token, device.web_push_p256dh, device.web_push_auth)
        grouped[device.provider].append((device, SendRequest(target, message)))
    return grouped
