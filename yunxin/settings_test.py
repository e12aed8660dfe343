"""Settings for the test suite: yunxin.settings plus what only tests want."""

import os
import uuid

os.environ.setdefault("YUNXIN_TESTING", "1")
# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests
# make beside it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# A namespace of its own per run, so a shared Redis never mixes runs' keys or queues; set
# before the settings are read so every queue (and any worker a test starts) gets it.
TEST_RUN_ID = uuid.uuid4().hex[:10]
os.environ["CELERY_QUEUE_PREFIX"] = f"yunxin-test-{TEST_RUN_ID}-"
os.environ.pop("CELERY_TASK_DEFAULT_QUEUE", None)

from yunxin.settings import *  # noqa: E402, F403
from yunxin.settings import CACHES, VAR_DIR  # noqa: E402

CELERY_TASK_ALWAYS_EAGER = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Webhook tests deliver to a receiver on 127.0.0.1; SSRF tests turn this off.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
CACHES["default"]["KEY_PREFIX"] = f"yunxin-test-{TEST_RUN_ID}"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / f"celerybeat-test-{TEST_RUN_ID}")
