"""Starts and stops every process StreamCat runs on one machine.

Used by `manage.py runstack` (the README's run command) and by the test suite,
so tests run the very processes a user runs: Redis, Janus, nginx-rtmp, the ASGI
server, and the Celery worker and beat.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from mediaplane.drivers import janus, nginx

ALL_PARTS = ("redis", "janus", "playback_auth", "nginx", "app", "worker", "beat")


class StackError(Exception):
    pass


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, *, timeout: float = 20.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StackError(f"process exited with {process.returncode} before listening on {port}")
        if _listening(port):
            return
        time.sleep(0.05)
    raise StackError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


@dataclass
class Stack:
    var_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    def prepare(self) -> None:
        """Create the runtime folders and write nginx's configuration."""
        for sub in (
            "run",
            "log",
            "hls",
            "recordings-in",
            "storage",
            "media",
            "redis",
            "nginx/client_body",
            "nginx/proxy",
            "nginx/fastcgi",
            "nginx/uwsgi",
            "nginx/scgi",
        ):
            (self.var_dir / sub).mkdir(parents=True, exist_ok=True)
        config = nginx.render_config(
            var_dir=self.var_dir,
            static_root=settings.STATIC_ROOT,
            callback_url=f"http://127.0.0.1:{settings.APP_PORT}/_plane/rtmp",
            callback_secret=settings.MEDIA_CALLBACK_SECRET,
        )
        self._write(self.var_dir / "nginx" / "nginx.conf", config)
        self._prepare_janus()

    def _write(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o600)  # holds secrets

    def _prepare_janus(self) -> None:
        janus_dir = self.var_dir / "janus"
        config = janus.render_config(
            config_dir=janus_dir,
            events_url=f"http://127.0.0.1:{settings.APP_PORT}/_plane/janus/events?secret="
            + settings.MEDIA_CALLBACK_SECRET,
        )
        for name, text in config.items():
            self._write(janus_dir / name, text)
        if settings.JANUS_LOOPBACK_ICE:
            preload = janus_dir / "loopback_ice.so"
            source = settings.BASE_DIR / "deploy" / "janus" / "loopback_ice.c"
            if not preload.exists() or preload.stat().st_mtime < source.stat().st_mtime:
                subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(preload), str(source), "-ldl"], check=True)

    def commands(self) -> dict[str, tuple[list[str], int | None]]:
        python = sys.executable
        return {
            "redis": (
                [
                    "redis-server",
                    "--port",
                    str(settings.REDIS_PORT),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.var_dir / "redis"),
                ],
                settings.REDIS_PORT,
            ),
            "janus": (
                ["janus", "-F", str(self.var_dir / "janus"), "-C", str(self.var_dir / "janus" / "janus.jcfg")],
                settings.JANUS_API_PORT,
            ),
            "nginx": (
                [
                    "nginx",
                    "-p",
                    str(self.var_dir / "nginx"),
                    "-c",
                    str(self.var_dir / "nginx" / "nginx.conf"),
                    "-e",
                    str(self.log_dir / "nginx-error.log"),
                ],
                settings.HTTP_PORT,
            ),
            "playback_auth": (
                [
                    python,
                    "-m",
                    "uvicorn",
                    "mediaplane.playback_server:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(settings.PLAYBACK_AUTH_PORT),
                    "--no-access-log",
                    "--timeout-graceful-shutdown",
                    "1",
                ],
                settings.PLAYBACK_AUTH_PORT,
            ),
            "app": (
                [
                    python,
                    "-m",
                    "uvicorn",
                    "streamcat.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(settings.APP_PORT),
                    "--proxy-headers",
                    "--forwarded-allow-ips",
                    "127.0.0.1",
                    "--no-access-log",
                    # Compressing every chat frame once per socket costs more CPU than
                    # the fan-out itself (bench.chat_fanout); frames are small anyway.
                    "--ws-per-message-deflate",
                    "false",
                    "--workers",
                    str(settings.APP_WORKERS),
                    "--timeout-graceful-shutdown",
                    "3",
                ],
                settings.APP_PORT,
            ),
            "worker": (
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "streamcat",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    "2",
                    "--without-gossip",
                    "--without-mingle",
                ],
                None,
            ),
            "beat": (
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "streamcat",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(self.var_dir / "run" / "celerybeat-schedule"),
                ],
                None,
            ),
        }

    def start(self, parts: tuple[str, ...] = ALL_PARTS) -> None:
        self.prepare()
        env = {**os.environ, **self.env}
        if settings.JANUS_LOOPBACK_ICE:
            env_janus = {**env, "LD_PRELOAD": str(self.var_dir / "janus" / "loopback_ice.so")}
        else:
            env_janus = env
        commands = self.commands()
        try:
            for name in parts:
                argv, port = commands[name]
                if port and _listening(port):
                    raise StackError(f"port {port} is already in use: is another StreamCat running?")
                if shutil.which(argv[0]) is None and not os.path.exists(argv[0]):
                    raise StackError(f"{argv[0]} is not installed: run scripts/setup.sh")
                log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
                self.processes[name] = subprocess.Popen(
                    argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env_janus if name == "janus" else env,
                    cwd=settings.BASE_DIR,
                    start_new_session=True,
                )
                if port:
                    wait_for_port(port, process=self.processes[name])
                if name == "nginx":
                    wait_for_port(settings.RTMP_PORT, process=self.processes[name])
        except BaseException:
            self.stop()
            raise

    def exited(self) -> dict[str, int]:
        return {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}

    def kill(self, name: str) -> None:
        """Kill one process abruptly (fault tests); start(parts=(name,)) brings it back."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def hold_down(self, name: str) -> None:
        """Stop one part and keep it down (degradation tests), until bring_up(name)."""
        self.kill(name)

    def bring_up(self, name: str) -> None:
        """Start a part held down again and wait until it answers."""
        self.start(parts=(name,))

    def stop(self, timeout: float = 10.0) -> None:
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
