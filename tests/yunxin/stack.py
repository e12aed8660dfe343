"""Processes for the scale-out and fault tests: gunicorn and Celery workers started as
in production, the load clients, and a private PostgreSQL cluster and Redis server that
a test may stop and restart (never the machine's shared ones)."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parents[2]
CLIENT = Path(__file__).with_name("load_client.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(**extra: str) -> dict[str, str]:
    """The test process's environment without what only the test process wants."""
    dropped = {"DJANGO_ALLOW_ASYNC_UNSAFE", "YUNXIN_TESTING", "DATABASE_URL", "REDIS_URL"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    return env | {"DJANGO_SETTINGS_MODULE": "yunxin.settings", "PYTHONUNBUFFERED": "1"} | extra


class Processes:
    """Started processes, each in its own session, all stopped (group by group) at exit."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Path:
        log = self.logs / f"{name}.log"
        with open(log, "w") as out:
            self.procs.append(
                subprocess.Popen(
                    args,
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        return log

    def gunicorn(self, name: str, env: dict[str, str], port: int, threads: int = 4) -> str:
        env = env | {
            "BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": str(threads),
        }
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"]
        self.start(name, [*gunicorn, "yunxin.wsgi"], env)
        return f"http://127.0.0.1:{port}"

    def worker(self, name: str, env: dict[str, str]) -> Path:
        celery = [sys.executable, "-m", "celery", "-A", "yunxin", "worker", "--pool=solo"]
        args = [*celery, "-n", f"{name}@%h", "--without-gossip", "--without-mingle"]
        return self.start(name, [*args, "--loglevel=INFO"], env)

    def stop(self) -> None:
        for proc in self.procs:
            _signal_group(proc, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def get(url: str, timeout: float = 5, headers: dict | None = None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}"), dict(resp.headers)
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            return err.code, json.loads(body), dict(err.headers)
        except ValueError:
            return err.code, {"raw": body[:500].decode(errors="replace")}, dict(err.headers)


def text(url: str, headers: dict | None = None) -> str:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.read().decode()


def wait_ready(
    base: str, logs: list[Path], timeout: float = 90, ignore: tuple[str, ...] = ()
) -> None:
    """Until /readyz answers that every dependency (but `ignore`d ones) is ready."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = get(f"{base}/readyz", timeout=5)
            checks = last[1].get("checks", {})
            if checks and all(v == "ok" for k, v in checks.items() if k not in ignore):
                return
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    pytest.fail(f"{base} not ready: {last}\n" + "\n".join(tail(log) for log in logs))


def wait_for_log(log: Path, marker: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while marker not in log.read_text():
        if time.monotonic() > deadline:
            pytest.fail(f"{marker!r} not in {log.name}:\n{tail(log)}")
        time.sleep(0.2)


def tail(log: Path, lines: int = 40) -> str:
    return f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-lines:])


def run_clients(configs: list[dict], timeout: float = 120) -> list[dict]:
    """One process per config, all at once; every answer of every client."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(CLIENT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in configs
    ]
    for proc, cfg in zip(procs, configs, strict=True):
        proc.stdin.write(json.dumps(cfg))
        proc.stdin.close()
    answers: list[dict] = []
    for proc in procs:
        out = proc.stdout.read()
        proc.wait(timeout=timeout)
        answers += json.loads(out)
    return answers


def worker_pids(master_pid: int) -> set[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return {int(p) for p in children.read_text().split()} if children.exists() else set()


# --- private services ------------------------------------------------------------------


def binaries_or_skip() -> Path:
    """The PostgreSQL server binaries (initdb, pg_ctl) and redis-server, or skip (fail
    when YUNXIN_REQUIRE_SERVICES=1)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = Path(found[-1]) if found else (Path(p) if (p := shutil.which("initdb")) else None)
    missing = [] if initdb else ["initdb/pg_ctl (PostgreSQL server binaries)"]
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        missing.append("runuser (initdb refuses root)")
    if missing:
        reason = "fault tests need " + ", ".join(missing)
        if REQUIRE_SERVICES:
            pytest.fail(f"required but missing: {reason}")
        pytest.skip(reason)
    return initdb.parent


class PrivatePostgres:
    """A throwaway cluster in a temporary folder, on its own port, run as the postgres OS
    user when we are root. Only this cluster is ever stopped or restarted."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="yunxin-pg-"))
        self.data = self.dir / "data"
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/yunxin"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def init(self) -> PrivatePostgres:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        import psycopg

        with psycopg.connect(self.url.replace("/yunxin", "/postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE yunxin")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A redis-server of our own on its own port, keeping nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> PrivateRedis:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return self
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None
