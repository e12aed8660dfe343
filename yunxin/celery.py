import os

from celery import Celery

from yunxin.requestid import connect_celery_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yunxin.settings")

app = Celery("yunxin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A task's log lines carry the id of the request that enqueued it.
connect_celery_signals()
