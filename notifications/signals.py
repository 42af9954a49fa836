"""What the engine tells the apps above it (they connect receivers in their AppConfig.ready)."""

from django.dispatch import Signal

# Sent after the commit that records a push's first open, with `source` and `source_ref` (a campaign's run id).
notification_opened = Signal()
