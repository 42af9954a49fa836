from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Hourly rollups of delivery outcomes (rollup.py), and what reads them (selectors.py)."""

    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # Campaign results read the rollups; campaigns sits below analytics in the layers and never imports it,
        # so analytics hands it its reader (docs/ARCHITECTURE.md, "The engine's front door").
        from analytics import selectors
        from campaigns import results

        results.read_rollups_with(selectors)
