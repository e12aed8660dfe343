"""gunicorn settings for `make serve` and any production host, all from the environment.

README.md ("Production") lists the variables. gunicorn itself also reads
FORWARDED_ALLOW_IPS: the addresses of the reverse proxies whose X-Forwarded-Proto it
trusts (default: this machine only).
"""

import multiprocessing
import os

bind = os.environ.get("BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count() + 1)
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A request never needs long (dependencies time out in seconds); a stuck worker is
# replaced. Keep-alive only matters between the proxy and gunicorn.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Heartbeat files in memory, not on a possibly slow disk (gunicorn's own advice).
_SHM = "/dev/shm"  # noqa: S108 (gunicorn only touches its heartbeat files there)
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
# The application logs one line per request (LOG_REQUESTS) with its request id.
accesslog = None
errorlog = "-"
# gunicorn's control socket (gunicornc) defaults to one path per user, which several
# instances on a machine would share: only where asked for, at a path of its own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket

if os.environ.get("LOG_FORMAT", "json") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(process)d %(message)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
            }
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {"gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True}},
    }


def child_exit(server, worker) -> None:
    """Prometheus multiprocess mode: a dead worker's live gauges leave the scrape."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
