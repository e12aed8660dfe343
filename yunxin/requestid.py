"""One id per request, on every log line it causes, in this process and in the workers.

The middleware takes `X-Request-ID` from the reverse proxy when it is present and sane
(else makes one), answers with it, and keeps it in a context variable for the request's
lifetime. A logging filter puts it on every record. Celery carries it along: publishing a
task puts the current id in the message headers, and the worker restores it while the
task runs, so a task's log lines name the request that enqueued it.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
TASK_HEADER = "yunxin_request_id"
_SANE = re.compile(r"^[A-Za-z0-9._:@/+=-]{8,128}$")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def current() -> str | None:
    return request_id_var.get()


def sanitize(value: str | None) -> str | None:
    """The proxy's id if it is a plausible id (no spaces, no control characters, not
    absurdly long or short), else None."""
    return value if value and _SANE.match(value) else None


class RequestIdMiddleware:
    """First in MIDDLEWARE, so everything after it logs with the id. The id stays set
    until the response is closed (`request_finished`), so Django's own log line about an
    error answer, written after the middleware returned, carries it too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = sanitize(request.headers.get(HEADER)) or uuid.uuid4().hex
        request.request_id = request_id
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


def _request_finished(**_: object) -> None:
    request_id_var.set(None)


request_finished.connect(_request_finished, dispatch_uid="yunxin-request-id-clear")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (or "-" outside a request or task) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get() or "-"
        return True


# --- Celery -------------------------------------------------------------------------------


def on_before_task_publish(headers: dict | None = None, **_: object) -> None:
    request_id = request_id_var.get()
    if request_id and headers is not None and TASK_HEADER not in headers:
        headers[TASK_HEADER] = request_id


def on_task_prerun(task=None, **_: object) -> None:
    if task is None or task.request.is_eager:
        return  # an eager task runs inside the request and keeps its id
    task.request._yunxin_token = request_id_var.set(task.request.get(TASK_HEADER))


def on_task_postrun(task=None, **_: object) -> None:
    token = getattr(task.request, "_yunxin_token", None) if task is not None else None
    if token is None:
        return
    task.request._yunxin_token = None
    try:
        request_id_var.reset(token)
    except ValueError:  # set in another context (a pool that switched threads)
        request_id_var.set(None)


def connect_celery_signals() -> None:
    from celery import signals

    signals.before_task_publish.connect(on_before_task_publish, weak=False)
    signals.task_prerun.connect(on_task_prerun, weak=False)
    signals.task_postrun.connect(on_task_postrun, weak=False)
