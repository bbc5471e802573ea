"""systemd units that run StreamCat as a service (scripts/install-service.sh).

One unit per stack part, rendered from the very commands the stack runs
(Stack.commands(), gathered by `manage.py systemd_units`), grouped in
streamcat.target. What supervisord does for `runstack`, systemd does here:

- restarts a part that dies (Restart=always, never given up: what stopped it may pass);
- starts the parts in the stack's order, each once the one before answers (a part
  with a TCP port is "started" only when it listens), and stops them in reverse;
- holds the listening socket of the parts served by several processes (the app, the
  playback-auth server) in a socket unit, lent to every instance as descriptor 3
  (streamcat/serve.py), so one instance dying refuses no connection, and a restart
  of them all leaves connections waiting in the backlog instead of refused;
- runs the database migrations once, in streamcat-migrate.service, before the parts
  that run the project's code; restarting that unit (an upgrade) restarts those parts
  around the migrations and leaves nginx, Redis, Janus and coturn running, so live
  broadcasts and stages go on and their sessions stay matched to nginx's state.

Only the standard library is imported here: `python -m streamcat.systemd wait-port`
runs at every start of a part.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "streamcat"
TARGET = f"{PREFIX}.target"
MIGRATE = f"{PREFIX}-migrate.service"
READY_TIMEOUT = 60  # seconds a part has to listen after it started (Stack.wait_up's too)


@dataclass(frozen=True)
class Part:
    """One stack part as the units need it."""

    name: str
    argv: list[str]
    port: int | None  # a TCP port it listens on, waited for before the next part starts
    priority: int  # start order, low first (stack.PRIORITY)
    processes: int = 0  # >0: served by this many processes on one socket (stack.SHARED_SOCKET)
    stop_seconds: int = 10
    project_code: bool = False  # runs the checkout's Python: restarted with every upgrade
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Installation:
    user: str
    env_file: Path
    base_dir: Path  # the checkout: read-only to the service
    var_dir: Path  # STREAMCAT_VAR_DIR: the only folder the service writes
    python: str  # the checkout's virtualenv interpreter


def unit_name(part: str) -> str:
    return f"{PREFIX}-{part.replace('_', '-')}"


def part_units(part: Part) -> list[str]:
    """The unit names that run a part: one service, or one instance per process."""
    if part.processes:
        return [f"{unit_name(part.name)}@{index}.service" for index in range(1, part.processes + 1)]
    return [f"{unit_name(part.name)}.service"]


def exec_line(argv: list[str]) -> str:
    """A command line as systemd reads it: % and $ taken literally, quoted when needed."""
    words = []
    for arg in argv:
        arg = arg.replace("%", "%%").replace("$", "$$")
        if arg == "" or any(char.isspace() or char in "\"'\\;" for char in arg):
            arg = '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
        words.append(arg)
    return " ".join(words)


def _hardening(install: Installation, part: Part | None) -> list[str]:
    """Everything a part needs is its own runtime folder: the rest of the system (the
    checkout too) is read-only to it, /tmp is its own, and it gains no privilege."""
    if install.var_dir.parent == Path("/var/lib"):
        writable = [f"StateDirectory={install.var_dir.name}", "StateDirectoryMode=0750"]
    else:
        writable = [f"ReadWritePaths={install.var_dir}"]
    # /home may hold the checkout (read-only then); otherwise nothing there is ours.
    under_home = any(install.base_dir.is_relative_to(home) for home in ("/home", "/root"))
    # nginx serves HTTP and HTTPS on 80 and 443: it may bind ports below 1024, nothing else may.
    binds_low_ports = part is not None and (part.name == "nginx" or (part.port or 1024) < 1024)
    capabilities = "CAP_NET_BIND_SERVICE" if binds_low_ports else ""
    return [
        f"User={install.user}",
        f"Group={install.user}",
        *writable,
        "UMask=0027",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        f"ProtectHome={'read-only' if under_home else 'yes'}",
        "PrivateTmp=yes",
        # The transcoder may use a hardware encoder (/dev/dri, /dev/nvidia*).
        f"PrivateDevices={'no' if part is not None and part.name == 'transcode' else 'yes'}",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        "ProtectProc=invisible",
        "RestrictSUIDSGID=yes",
        "RestrictRealtime=yes",
        "RestrictNamespaces=yes",
        "LockPersonality=yes",
        "SystemCallArchitectures=native",
        # Netlink: Janus and aioice list the network interfaces.
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        f"CapabilityBoundingSet={capabilities}",
        *([f"AmbientCapabilities={capabilities}"] if capabilities else []),
    ]


def _common_service(install: Installation) -> list[str]:
    return [
        f"EnvironmentFile={install.env_file}",
        # The journal gets each line at once; the checkout is read-only (no .pyc written).
        "Environment=PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1",
        f"WorkingDirectory={install.base_dir}",
    ]


# The database may be PostgreSQL on this machine: up before the parts, down after them.
_SYSTEM_ORDER = "network-online.target postgresql.service"


def _part_service(install: Installation, part: Part, parts: list[Part], instance: bool) -> str:
    earlier = [unit for other in parts if other.priority < part.priority for unit in part_units(other)]
    wants = ["network-online.target", MIGRATE]
    after = [_SYSTEM_ORDER, MIGRATE, *earlier]
    unit = [
        "[Unit]",
        f"Description=StreamCat {part.name}" + (" (process %i)" if instance else ""),
        f"Documentation=file://{install.base_dir / 'README.md'}",
        f"PartOf={TARGET}",
        f"Wants={' '.join(wants)}",
        # The project's code waits for the migrations and goes down with them (an upgrade
        # restarts it around them); nginx, Redis, Janus and coturn only start after them.
        *([f"Requires={MIGRATE}"] if part.project_code else []),
        f"After={' '.join(after)}",
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "Type=exec",
        *_common_service(install),
        *(f"Environment={name}={value}" for name, value in part.environment.items()),
        f"SyslogIdentifier={unit_name(part.name)}",
        f"ExecStart={exec_line(part.argv)}",
    ]
    if instance:
        unit.append(f"Sockets={unit_name(part.name)}.socket")
    elif part.port:
        # Started means listening, so the next part finds it (as Stack.start waits).
        wait = [install.python, "-m", "streamcat.systemd", "wait-port", str(part.port)]
        unit.append(f"ExecStartPost={exec_line(wait)}")
    if part.name == "nginx":
        # Stopped on purpose (not crashed): every live broadcast ends cleanly, as when
        # runstack stops; after a crash the worker's reconciliation closes them as lost.
        end_broadcasts = [install.python, "manage.py", "end_broadcasts"]
        check = 'test "$SERVICE_RESULT" != success || exec "$@"'
        unit.append(f"ExecStopPost={exec_line(['/bin/sh', '-c', check, 'end_broadcasts', *end_broadcasts])}")
    unit += [
        "Restart=always",
        "RestartSec=2",
        f"TimeoutStopSec={part.stop_seconds}",
        # The Celery worker alone gets SIGTERM (its warm shutdown); its pool goes after.
        f"KillMode={'mixed' if part.name == 'worker' else 'control-group'}",
        *_hardening(install, part),
        "",
    ]
    return "\n".join(unit)


def _socket(install: Installation, part: Part) -> str:
    return "\n".join(
        [
            "[Unit]",
            f"Description=StreamCat {part.name}'s listening socket",
            f"PartOf={TARGET}",
            "",
            "[Socket]",
            f"ListenStream=127.0.0.1:{part.port}",
            # A connection while every instance is down starts the first one.
            f"Service={part_units(part)[0]}",
            "",
        ]
    )


def _migrate(install: Installation) -> str:
    manage = [install.python, "manage.py"]
    return "\n".join(
        [
            "[Unit]",
            "Description=StreamCat: database migrations, static files, the parts' configuration",
            f"Documentation=file://{install.base_dir / 'README.md'}",
            f"PartOf={TARGET}",
            "Wants=network-online.target",
            f"After={_SYSTEM_ORDER}",
            "",
            "[Service]",
            # Once per start of streamcat.target (or per restart of this unit: an upgrade).
            "Type=oneshot",
            "RemainAfterExit=yes",
            *_common_service(install),
            f"SyslogIdentifier={PREFIX}-migrate",
            f"ExecStart={exec_line([*manage, 'migrate', '--noinput'])}",
            f"ExecStart={exec_line([*manage, 'collectstatic', '--noinput', '--verbosity', '0'])}",
            # Runtime folders, certificates, nginx's, Janus's and coturn's configuration.
            f"ExecStart={exec_line([*manage, 'systemd_units', '--prepare'])}",
            "TimeoutStartSec=30min",  # a long migration on a big database
            *_hardening(install, None),
            "",
        ]
    )


def _target(parts: list[Part]) -> str:
    units = [MIGRATE]
    for part in parts:
        if part.processes:
            units.append(f"{unit_name(part.name)}.socket")
        units += part_units(part)
    return "\n".join(
        [
            "[Unit]",
            "Description=StreamCat: every part of the stack",
            f"Wants={' '.join(units)}",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def unit_files(install: Installation, parts: list[Part]) -> dict[str, str]:
    """File name → content of every unit: the target, the migrations, one service per
    part (a socket and an instance template for the parts on a shared socket)."""
    if install.var_dir.is_relative_to(install.base_dir):
        raise ValueError(f"the runtime folder {install.var_dir} must be outside the checkout {install.base_dir}")
    parts = sorted(parts, key=lambda part: part.priority)
    files = {TARGET: _target(parts), MIGRATE: _migrate(install)}
    for part in parts:
        if part.processes:
            files[f"{unit_name(part.name)}.socket"] = _socket(install, part)
            files[f"{unit_name(part.name)}@.service"] = _part_service(install, part, parts, instance=True)
        else:
            files[f"{unit_name(part.name)}.service"] = _part_service(install, part, parts, instance=False)
    return files


def listening(port: int) -> bool:
    """Whether a TCP socket listens on this port, on any address (nginx may bind only the
    public one)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                rows = [line.split() for line in list(lines)[1:]]
        except FileNotFoundError:
            continue  # no IPv6
        if any(row[1].endswith(f":{port:04X}") and row[3] == "0A" for row in rows):  # 0A: LISTEN
            return True
    return False


def wait_port(port: int, timeout: float = READY_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not listening(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamcat.systemd")
    commands = parser.add_subparsers(dest="command", required=True)
    wait = commands.add_parser("wait-port", help="wait until something listens on this TCP port")
    wait.add_argument("port", type=int)
    wait.add_argument("--timeout", type=float, default=READY_TIMEOUT)
    args = parser.parse_args(argv)
    if wait_port(args.port, args.timeout):
        return 0
    print(f"nothing listens on TCP port {args.port} after {args.timeout:.0f}s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
