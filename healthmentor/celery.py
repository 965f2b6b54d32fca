"""The Celery app. Configuration lives in settings (CELERY_* names); tasks are found in each app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthmentor.settings")

app = Celery("healthmentor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
