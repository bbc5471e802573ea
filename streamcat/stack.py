"""Starts, supervises and stops every process StreamCat runs on one machine.

supervisord (the `supervisor` package) runs the parts: it restarts any part that
dies, with back-off and a limit, logs why it died, and stops them in dependency
order. Used by `manage.py runstack` (the README's run command) and by the test
suite, so tests run the very processes a user runs: Redis, Janus, nginx-rtmp, the
playback-auth server, the ASGI server, and the Celery worker and beat.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from supervisor.xmlrpc import SupervisorTransport

from mediaplane.drivers import coturn, janus, nginx
from streamcat import certificates, tls

ALL_PARTS = (
    "redis",
    "janus",
    "turn",
    "playback_auth",
    "nginx",
    "certificates",
    "srt",
    "transcode",
    "app",
    "worker",
    "beat",
)
# Start order (low first); supervisord stops in the reverse order: Celery first, then
# nginx (no new requests or publishers), the app, and Redis last.
PRIORITY = {
    "redis": 10,
    "janus": 20,
    "turn": 25,
    "playback_auth": 30,
    "app": 40,
    "nginx": 50,
    "certificates": 52,  # after nginx, which answers the ACME CA's challenge
    "srt": 55,
    "transcode": 57,
    "worker": 60,
    "beat": 70,
}
# Seconds a part has to stop after SIGTERM before it is killed: the worker may be
# finishing a recording; uvicorn closes sockets within its graceful timeout.
STOP_WAIT = {"worker": 30, "app": 8}
# Parts served by several processes on one socket supervisord holds: how many.
SHARED_SOCKET = {"app": lambda: settings.APP_WORKERS, "playback_auth": lambda: 2}
START_RETRIES = 8
PR_SET_PDEATHSIG = 1  # prctl(2)  # about half a minute of tries (1 + 2 + … s apart) before a part is left FATAL


class StackError(Exception):
    pass


def enabled(parts: tuple[str, ...]) -> tuple[str, ...]:
    """Those of the parts this configuration runs: coturn only with TURN on."""
    return tuple(name for name in parts if name != "turn" or settings.TURN_ENABLED)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_answers(port: int, path: str = "/_ready", timeout: float = 5) -> bool:
    """Whether an HTTP server on the loopback port answers at all (an error status is an
    answer too): the readiness of a server whose socket listens before it does."""
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def _udp_bound(port: int) -> bool:
    """Whether a UDP socket is bound to this port (the SRT gateway: nothing to connect to)."""
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            if any(line.split()[1].endswith(f":{port:04X}") for line in list(lines)[1:]):
                return True
    return False


def _literal(value) -> str:
    """A value for supervisord's configuration, which expands %(name)s everywhere."""
    return str(value).replace("%", "%%")


def _die_with_parent() -> None:
    """In supervisord's child before exec: if whoever started the stack dies (even by
    SIGKILL), supervisord gets SIGTERM and stops every part, instead of leaving them
    running with the ports taken."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


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
    label: str = "stack"  # several stacks (the tests run Redis apart) each have their own supervisord
    supervisord: subprocess.Popen | None = None

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    def prepare(self) -> None:
        """Create the runtime folders, the RTMPS certificate if the site has none, and
        write nginx's configuration."""
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
        tls_cert, tls_key = tls.site_certificate(
            var_dir=self.var_dir,
            host=settings.PUBLIC_HOST,
            mode=settings.TLS,
            cert=settings.TLS_CERT,
            key=settings.TLS_KEY,
        )
        certificates.webroot(self.var_dir).mkdir(parents=True, exist_ok=True)
        config = nginx.render_config(
            var_dir=self.var_dir,
            static_root=settings.STATIC_ROOT,
            callback_url=f"http://127.0.0.1:{settings.APP_PORT}/_plane/rtmp",
            callback_secret=settings.MEDIA_CALLBACK_SECRET,
            tls_cert=tls_cert,
            tls_key=tls_key,
            acme_webroot=certificates.webroot(self.var_dir),
            local_ca=tls.local_ca_file(self.var_dir) if tls.from_local_ca(settings.TLS, settings.TLS_CERT) else None,
        )
        self._write(self.var_dir / "nginx" / "nginx.conf", config)
        turn_config = coturn.render_config(var_dir=self.var_dir, tls_cert=tls_cert, tls_key=tls_key)
        self._write(self.var_dir / "turn" / "turnserver.conf", turn_config)
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
            "turn": (["turnserver", "-c", str(self.var_dir / "turn" / "turnserver.conf")], settings.TURN_PORT),
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
                [python, "-m", "streamcat.serve", "mediaplane.playback_server:app"],
                settings.PLAYBACK_AUTH_PORT,
            ),
            "app": ([python, "-m", "streamcat.serve", "streamcat.asgi:application"], settings.APP_PORT),
            # UDP: _answers() looks for its bound port instead of connecting.
            "srt": ([python, "-m", "mediaplane.srt"], None),
            "transcode": ([python, "-m", "mediaplane.transcode"], None),
            "certificates": ([python, "-m", "streamcat.certificates"], None),
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

    def supervisor_config(self, parts: tuple[str, ...]) -> str:
        """supervisord's configuration: one program per part, restarted whenever it
        dies, started in dependency order and stopped in the reverse order."""
        commands = self.commands()
        run, logs = self.var_dir / "run", self.log_dir
        if len(str(self.socket_path)) > 100:  # AF_UNIX paths end at 108 bytes
            raise StackError(f"the runtime folder's path is too long for a control socket: {self.var_dir}")
        if any(";" in str(path) for path in (self.var_dir, settings.BASE_DIR)):
            raise StackError("supervisord reads ';' in a path as a comment: move the checkout or STREAMCAT_VAR_DIR")
        lines = [
            "; Generated by StreamCat (streamcat/stack.py) at every start: do not edit.",
            "[supervisord]",
            "nodaemon=true",
            f"logfile={_literal(logs / f'supervisord-{self.label}.log')}",
            "logfile_maxbytes=10MB",
            f"pidfile={_literal(run / f'supervisord-{self.label}.pid')}",
            f"childlogdir={_literal(logs)}",
            "[unix_http_server]",
            f"file={_literal(self.socket_path)}",
            "chmod=0700",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        ]
        for name in parts:
            argv, port = commands[name]
            if name in SHARED_SOCKET:
                # supervisord owns the listening socket and lends it to each of the part's
                # processes, so one dying never refuses a connection; the others accept.
                lines += [
                    f"[fcgi-program:{name}]",
                    f"socket=tcp://127.0.0.1:{port}",
                    f"numprocs={SHARED_SOCKET[name]()}",
                    "process_name=%(program_name)s_%(process_num)d",
                ]
            else:
                lines.append(f"[program:{name}]")
            lines += [
                "command=" + _literal(" ".join(shlex.quote(arg) for arg in argv)),
                f"directory={_literal(settings.BASE_DIR)}",
                f"priority={PRIORITY[name]}",
                "autorestart=true",
                # Up after a second; a part that fails sooner is retried after 1, 2, 3… s,
                # and given up (FATAL) after that many tries: runstack tries it again later.
                "startsecs=1",
                f"startretries={START_RETRIES}",
                # Every part's children (uvicorn and Celery workers, ffmpeg) go with it; but
                # the Celery worker alone gets SIGTERM, for its warm shutdown (its pool's
                # processes would drop their tasks at once on a SIGTERM of their own).
                f"stopasgroup={'false' if name == 'worker' else 'true'}",
                "killasgroup=true",
                f"stopwaitsecs={STOP_WAIT.get(name, 10)}",
                f"stdout_logfile={_literal(logs / f'{name}.log')}",  # one file for a part's processes
                "stdout_logfile_maxbytes=20MB",
                "stdout_logfile_backups=3",
                "redirect_stderr=true",
            ]
            if name == "janus" and settings.JANUS_LOOPBACK_ICE:
                preload = self.var_dir / "janus" / "loopback_ice.so"
                lines.append(f'environment=LD_PRELOAD="{_literal(preload)}"')
        return "\n".join(lines) + "\n"

    @property
    def socket_path(self) -> Path:
        return self.var_dir / "run" / f"supervisor-{self.label}.sock"

    def _rpc(self):
        transport = SupervisorTransport(None, None, f"unix://{self.socket_path}")
        return xmlrpc.client.ServerProxy("http://localhost", transport=transport).supervisor

    def start(self, parts: tuple[str, ...] = ALL_PARTS) -> None:
        """Start supervisord with these parts and wait until each answers. On a running
        stack, wait until these parts (restarted after a kill, say) answer again."""
        parts = enabled(parts)
        if self.supervisord is not None and self.supervisord.poll() is None:
            for name in parts:
                self.wait_up(name)
            return
        self.prepare()
        commands = self.commands()
        for name in parts:
            argv, port = commands[name]
            if port and _listening(port):
                raise StackError(f"port {port} is already in use: is another StreamCat running?")
            if name == "srt" and _udp_bound(settings.SRT_PORT):
                raise StackError(f"UDP port {settings.SRT_PORT} is already in use: is another StreamCat running?")
            if shutil.which(argv[0]) is None and not os.path.exists(argv[0]):
                raise StackError(f"{argv[0]} is not installed: run scripts/setup.sh")
        config = self.var_dir / "run" / f"supervisord-{self.label}.conf"
        self._write(config, self.supervisor_config(parts))
        self.socket_path.unlink(missing_ok=True)
        self.supervisord = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log_dir / f"supervisord-{self.label}.err", "ab"),  # noqa: SIM115 - lives as long as it
            env={**os.environ, **self.env},
            cwd=settings.BASE_DIR,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before exec
        )
        try:
            for name in parts:
                self.wait_up(name)
        except BaseException:
            self.stop()
            raise

    def _processes(self, name: str) -> list[str]:
        """supervisord's names for a part's processes (the app has several)."""
        if name in SHARED_SOCKET:
            return [f"{name}:{name}_{index}" for index in range(SHARED_SOCKET[name]())]
        return [name]

    def info(self, name: str) -> dict:
        """supervisord's view of a part (of its first process): statename (RUNNING,
        BACKOFF, FATAL…), pid, …"""
        return self._rpc().getProcessInfo(self._processes(name)[0])

    def pid(self, name: str) -> int:
        return self.info(name)["pid"]

    def pids(self, name: str) -> list[int]:
        return [self._rpc().getProcessInfo(process)["pid"] for process in self._processes(name)]

    def states(self) -> dict[str, str]:
        return {
            info["name"] if info["group"] == info["name"] else f"{info['group']}:{info['name']}": info["statename"]
            for info in self._rpc().getAllProcessInfo()
        }

    def _answers(self, name: str) -> bool:
        _argv, port = self.commands()[name]
        if name in SHARED_SOCKET:
            # The socket is supervisord's and listens at once: ask the server itself.
            return http_answers(port)
        if name == "srt":
            return _udp_bound(settings.SRT_PORT)
        ports = [port] + ([settings.RTMP_PORT] if name == "nginx" else [])
        if name == "nginx" and settings.TLS != "off":
            ports.append(settings.HTTPS_PORT)
        return all(p is None or _listening(p) for p in ports)

    def wait_up(self, name: str, *, timeout: float = 60.0) -> None:
        """Wait until supervisord runs every process of the part and it answers."""
        deadline = time.monotonic() + timeout
        while True:
            if self.supervisord is None or self.supervisord.poll() is not None:
                raise StackError(f"supervisord exited; see {self.log_dir / f'supervisord-{self.label}.log'}")
            try:
                states = {self._rpc().getProcessInfo(p)["statename"] for p in self._processes(name)}
            except (OSError, xmlrpc.client.Fault):
                states = {"STARTING"}  # supervisord is still reading its configuration
            if "FATAL" in states:
                raise StackError(f"{name} cannot start; last lines of its log:\n{self.tail(name)}")
            if states == {"RUNNING"} and self._answers(name):
                return
            if time.monotonic() > deadline:
                raise StackError(f"{name} is {states} after {timeout:.0f}s; last lines of its log:\n{self.tail(name)}")
            time.sleep(0.05)

    def kill(self, name: str, *, every_process: bool = False) -> list[int]:
        """Kill a part abruptly (fault tests): its first process (or all of them), with
        their children. supervisord starts them again by itself. Returns the pids."""
        pids = self.pids(name) if every_process else [self.pid(name)]
        for pid in pids:
            os.killpg(pid, signal.SIGKILL)
        # Return once supervisord has seen them die, so a wait_up() after this waits
        # for the new processes rather than finding the old ones' last breath.
        deadline = time.monotonic() + 10
        while set(self.pids(name)) & set(pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        return pids

    def restart_process(self, process: str) -> None:
        """Start one process (as states() names it) that supervisord gave up."""
        self._rpc().startProcess(process, False)

    def hold_down(self, name: str) -> None:
        """Stop one part and keep it down (degradation tests), until bring_up(name)."""
        self._rpc().stopProcessGroup(name, True)

    def bring_up(self, name: str) -> None:
        """Start a part held down again and wait until it answers."""
        self._rpc().startProcessGroup(name, True)
        self.wait_up(name)

    def stop(self, timeout: float = 60.0) -> None:
        """supervisord stops the parts one by one in reverse start order: beat and the
        worker, nginx, the app, … Redis last. Anything left after `timeout` is killed."""
        if self.supervisord is None:
            return
        pids = []
        with contextlib.suppress(OSError, xmlrpc.client.Fault):
            pids = [info["pid"] for info in self._rpc().getAllProcessInfo() if info["pid"]]
        if self.supervisord.poll() is None:
            self.supervisord.terminate()
            try:
                self.supervisord.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.supervisord.kill()
                self.supervisord.wait()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.supervisord = None

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
