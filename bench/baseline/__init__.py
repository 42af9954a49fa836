"""The benchmark's baseline: django-push-notifications sending from Celery tasks, as its documentation shows.

Only the benchmark loads it (bench/baseline_settings.py); it is not part of Pushcart.
"""
