"""Settings for the test suite: yunxin.settings plus what only tests want."""

import os
import uuid

os.environ.setdefault("YUNXIN_TESTING", "1")
# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests
# make beside it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from yunxin.settings import *  # noqa: F403
from yunxin.settings import CACHES, VAR_DIR

CELERY_TASK_ALWAYS_EAGER = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# A namespace of its own per run, so a shared Redis never mixes runs' keys.
TEST_RUN_ID = uuid.uuid4().hex[:10]
CACHES["default"]["KEY_PREFIX"] = f"yunxin-test-{TEST_RUN_ID}"
CELERY_TASK_DEFAULT_QUEUE = f"yunxin-test-{TEST_RUN_ID}"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / f"celerybeat-test-{TEST_RUN_ID}")
