"""scripts/install-service.sh and the systemd units it writes (streamcat/systemd.py).

PID 1 here is not systemd, so no unit can be started by systemd itself. Tested for real:
the script installing into a root folder (user, settings file kept on a re-run, units,
enabling), systemd's own verifier on the units, that every part's unit runs exactly the
stack's command, serve.py on a socket handed over as systemd does (LISTEN_FDS), and the
whole stack started from the units' command lines the way systemd would: in the target's
order, each ExecStartPost awaited, the shared sockets lent as descriptor 3, every process
in a mount namespace where everything but the runtime folder is read-only (the checkout
too: ProtectSystem=strict) with a private /tmp and no new privileges.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from core import processes
from streamcat import systemd
from streamcat.management.commands.systemd_units import stack_parts
from streamcat.stack import PRIORITY, SHARED_SOCKET, Stack, http_answers
from tests.conftest import wait_for

# The installed stack keeps its own SQLite database: run once, on SQLite.
pytestmark = pytest.mark.engine_independent

SCRIPT = settings.BASE_DIR / "scripts" / "install-service.sh"
PYTHON = str(settings.BASE_DIR / ".venv" / "bin" / "python")


def parse_unit(text: str) -> dict[str, list[str]]:
    """A unit's settings, "Section.Key" → every value given."""
    values: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values.setdefault(f"{section}.{key}", []).append(value)
    return values


def read_unit(path: Path) -> dict[str, list[str]]:
    return parse_unit(path.read_text())


def command_of(line: str) -> list[str]:
    """An Exec line as systemd splits it (our lines escape only $, % and quotes)."""
    return [word.replace("$$", "$").replace("%%", "%") for word in shlex.split(line)]


def install(root: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", str(SCRIPT), "--root", str(root)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def root():
    # Under /var/tmp, not /tmp: the stack test gives its processes a private /tmp.
    folder = Path(tempfile.mkdtemp(prefix="streamcat-service-", dir="/var/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_install_keeps_the_admins_settings_on_a_rerun(root):
    install(root)
    env_file = root / "etc" / "streamcat" / "streamcat.env"
    user = next(line.split(":") for line in (root / "etc" / "passwd").read_text().splitlines())
    assert user[0] == "streamcat" and user[2] != "0" and user[6] == "/usr/sbin/nologin"
    assert (env_file.stat().st_uid, env_file.stat().st_gid) == (0, int(user[3]))
    assert env_file.stat().st_mode & 0o777 == 0o640
    var_dir = root / "var" / "lib" / "streamcat"
    assert f"STREAMCAT_VAR_DIR={var_dir}\n" in env_file.read_text()
    assert (var_dir.stat().st_uid, var_dir.stat().st_mode & 0o777) == (int(user[2]), 0o750)
    units = root / "etc" / "systemd" / "system"
    # Enabled: the link names the target as the installed system will see it.
    assert os.readlink(units / "multi-user.target.wants" / "streamcat.target") == "/etc/systemd/system/streamcat.target"
    assert "streamcat-app@2.service" in read_unit(units / "streamcat.target")["Unit.Wants"][0].split()

    # The admin's edit stays, and the units follow it.
    with env_file.open("a") as settings_file:
        settings_file.write("STREAMCAT_APP_WORKERS=3\n")
    edited = env_file.read_text()
    install(root)
    assert env_file.read_text() == edited
    assert "streamcat-app@3.service" in read_unit(units / "streamcat.target")["Unit.Wants"][0].split()


def test_the_units_pass_systemds_verifier(root):
    install(root)
    units = root / "etc" / "systemd" / "system"
    files = sorted(str(path) for path in units.glob("streamcat*") if path.is_file())
    instances = ["streamcat-app@1.service", "streamcat-playback-auth@1.service"]
    verified = subprocess.run(
        ["systemd-analyze", "verify", *files, *instances], capture_output=True, text=True, timeout=120, cwd=units
    )
    assert (verified.returncode, verified.stderr, verified.stdout) == (0, "", "")


def test_every_part_runs_the_stacks_command_unprivileged():
    var_dir = Path("/var/lib/streamcat")  # only named: nothing is written there
    stack = Stack(var_dir=var_dir)
    install = systemd.Installation(
        user="streamcat",
        env_file=Path("/etc/streamcat/streamcat.env"),
        base_dir=settings.BASE_DIR,
        var_dir=var_dir,
        python=PYTHON,
    )
    parts = stack_parts(stack)
    units = systemd.unit_files(install, parts)
    target = units["streamcat.target"]
    for name, (argv, port) in stack.commands().items():
        if name == "turn" and not settings.TURN_ENABLED:
            continue
        service = systemd.unit_name(name) + ("@.service" if name in SHARED_SOCKET else ".service")
        unit = parse_unit(units[service])
        assert [command_of(line) for line in unit["Service.ExecStart"]] == [argv], name
        assert unit["Service.Restart"] == ["always"]
        assert unit["Service.User"] == ["streamcat"] and unit["Service.StateDirectory"] == ["streamcat"]
        assert unit["Service.ProtectSystem"] == ["strict"] and unit["Service.NoNewPrivileges"] == ["yes"]
        assert "ReadWritePaths" not in str(unit)  # the runtime folder is the only writable one
        assert unit["Service.WorkingDirectory"] == [str(settings.BASE_DIR)]
        assert ("Unit.Requires" in unit) == (argv[0] == sys.executable), name  # the project's code
        bind = "CAP_NET_BIND_SERVICE" if name == "nginx" else ""
        assert unit["Service.CapabilityBoundingSet"] == [bind]
        # Started after every part the stack starts before it.
        earlier = {other for other in PRIORITY if PRIORITY[other] < PRIORITY[name]}
        after = unit["Unit.After"][0].split()
        for part in parts:
            if part.name in earlier:
                assert set(systemd.part_units(part)) <= set(after), (name, part.name)
        if name in SHARED_SOCKET:
            assert unit["Service.Sockets"] == [f"{systemd.unit_name(name)}.socket"]
            assert f"ListenStream=127.0.0.1:{port}" in units[f"{systemd.unit_name(name)}.socket"]
            for index in range(1, SHARED_SOCKET[name]() + 1):
                assert f"{systemd.unit_name(name)}@{index}.service" in target
        else:
            assert f"{service}" in target

    inside = systemd.Installation(**{**install.__dict__, "var_dir": settings.BASE_DIR / "var"})
    with pytest.raises(ValueError, match="outside the checkout"):
        systemd.unit_files(inside, parts)


def start_with_socket(argv: list[str], listener: socket.socket, env: dict[str, str], log=subprocess.PIPE):
    """Start a process the way systemd starts a unit with Sockets=: the socket as
    descriptor 3, LISTEN_FDS=1 and LISTEN_PID its own pid (set by the shell it replaces)."""
    return subprocess.Popen(
        ["sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", *argv],
        env={**env, "LISTEN_FDS": "1"},
        cwd=settings.BASE_DIR,
        close_fds=False,  # fd 3, made by dup2, is inheritable; Python's own descriptors are not
        preexec_fn=lambda: os.dup2(listener.fileno(), 3),  # noqa: PLW1509 - only dup2, before exec
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def free_listener() -> socket.socket:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    return listener


def test_serve_takes_the_socket_systemd_hands_it():
    listener = free_listener()
    port = listener.getsockname()[1]
    argv = [PYTHON, "-m", "streamcat.serve", "mediaplane.playback_server:app"]
    server = start_with_socket(argv, listener, dict(os.environ))
    try:
        wait_for(lambda: http_answers(port, timeout=2), timeout=60, message="serve.py answering on systemd's socket")
    finally:
        processes.stop(server, 10, group=True)
        listener.close()


def test_serve_refuses_more_sockets_than_one():
    listener = free_listener()
    server = subprocess.run(
        ["sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", PYTHON, "-m", "streamcat.serve", "streamcat.asgi:application"],
        env={**os.environ, "LISTEN_FDS": "2"},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    listener.close()
    assert server.returncode == 1 and "takes one listening socket" in server.stderr


# What systemd's sandbox does that matters to the parts: the runtime folder writable, the
# rest of the system (the checkout too) read-only (ProtectSystem=strict), a private /tmp.
SANDBOX = (
    'mount --bind "$0" "$0" && mount -o remount,bind,ro / && mount -t tmpfs -o mode=1777 tmpfs /tmp || exit 99\n'
    'if [ -n "$LISTEN_FDS" ]; then export LISTEN_PID=$$; fi\n'
    'exec "$@"'
)


def shifted(name: str, value: str) -> str:
    """A port 200 up, a port range 2000 up."""
    if name.endswith("_PORT"):
        return str(int(value) + 200)
    if name.endswith("_PORTS"):
        low, high = value.split("-")
        return f"{int(low) + 2000}-{int(high) + 2000}"
    return value


def service_environment(env_file: Path, unit: dict[str, list[str]], home: Path) -> dict[str, str]:
    """EnvironmentFile= and Environment= as systemd gives them to the unit's processes."""
    dump = subprocess.run(
        ["env", "-i", "bash", "-c", 'set -a && . "$0" && exec env -u PWD -u SHLVL -u _ -0', str(env_file)],
        capture_output=True,
        check=True,
    ).stdout
    env = dict(item.split("=", 1) for item in dump.decode().split("\0") if item)
    for line in unit.get("Service.Environment", []):
        env.update(word.split("=", 1) for word in shlex.split(line))
    return {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8", **env}


@pytest.mark.engine_independent
def test_the_stack_runs_from_its_units(root):
    """Every part started from its unit, as systemd would, answers: /health says ok."""
    var_dir = root / "var" / "lib" / "streamcat"
    env_file = root / "etc" / "streamcat" / "streamcat.env"
    env_file.parent.mkdir(parents=True)
    # The test session's settings, on ports of its own: the session's Redis (and its stack,
    # when other tests started it) hold the session's.
    service_settings = {
        name: shifted(name, value) for name, value in os.environ.items() if name.startswith("STREAMCAT_")
    }
    # Ports left at their defaults are the session's too: shift them as well.
    for name in dir(settings):
        value = getattr(settings, name)
        ours = (name.endswith("_PORT") and type(value) is int) or (name.endswith("_PORTS") and "-" in str(value))
        if ours and f"STREAMCAT_{name}" not in service_settings:
            service_settings[f"STREAMCAT_{name}"] = shifted(name, str(value))
    service_settings["STREAMCAT_VAR_DIR"] = str(var_dir)
    http_port = int(service_settings["STREAMCAT_HTTP_PORT"])
    env_file.write_text("".join(f"{name}={shlex.quote(value)}\n" for name, value in service_settings.items()))
    install(root)
    units_dir = root / "etc" / "systemd" / "system"
    account = next(line.split(":") for line in (root / "etc" / "passwd").read_text().splitlines())
    as_user = ["setpriv", "--reuid", account[2], "--regid", account[3], "--clear-groups", "--no-new-privs"]
    # This machine's virtualenv interpreter may live where only root can reach it (pyenv
    # under /root, mode 700): then the project's Python cannot run as the service user
    # here, and every part runs as root, still in the read-only sandbox.
    usable = subprocess.run([*as_user, PYTHON, "-c", "import redis.asyncio, django"], capture_output=True)
    if usable.returncode != 0:
        as_user = ["setpriv", "--no-new-privs"]

    def logs() -> str:
        """The last lines each part wrote (its journal, under systemd), and nginx's error log."""
        files = [*root.glob("*.log"), *var_dir.glob("log/nginx-error.log")]
        return "\n".join(
            f"== {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-15:]) for path in files
        )

    def run(argv, unit, *, listener=None, check_exit=False, log=None):
        env = service_environment(env_file, unit, var_dir)
        wrapped = ["unshare", "--mount", "--propagation", "private", "sh", "-c", SANDBOX, str(var_dir), *as_user]
        if listener is not None:
            return start_with_socket([*wrapped, *argv], listener, env, log)
        if check_exit:
            done = subprocess.run([*wrapped, *argv], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True)
            assert done.returncode == 0, (argv, done.stderr[-3000:], logs())
            return done
        return subprocess.Popen(
            [*wrapped, *argv], env=env, cwd=settings.BASE_DIR, start_new_session=True,
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    migrate = read_unit(units_dir / "streamcat-migrate.service")
    for line in migrate["Service.ExecStart"]:
        run(command_of(line), migrate, check_exit=True)

    running: list[subprocess.Popen] = []
    listeners: list[socket.socket] = []
    outputs = contextlib.ExitStack()
    try:
        for name in read_unit(units_dir / "streamcat.target")["Unit.Wants"][0].split():
            if name.endswith(".socket"):
                unit = read_unit(units_dir / name)
                address, port = unit["Socket.ListenStream"][0].rsplit(":", 1)
                listener = socket.socket()
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((address, int(port)))
                listener.listen(1024)
                listeners.append(listener)
                continue
            if name == "streamcat-migrate.service":
                continue
            template = name.split("@")[0] + "@.service" if "@" in name else name
            unit = read_unit(units_dir / template)
            argv = command_of(unit["Service.ExecStart"][0])
            log = outputs.enter_context((root / f"{name}.log").open("ab"))  # its journal, as it were
            running.append(run(argv, unit, listener=listeners[-1] if "@" in name else None, log=log))
            for line in unit.get("Service.ExecStartPost", []):
                run(command_of(line), unit, check_exit=True)

        def healthy():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/health", timeout=5) as answer:
                    return json.load(answer)["status"] == "ok"
            except OSError:
                return False

        try:
            wait_for(healthy, timeout=180, message="every part up, /health ok")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{logs()}") from None
        # The database and the static files are in the runtime folder.
        assert (var_dir / "db.sqlite3").exists() and (var_dir / "static" / "admin").is_dir()
    finally:
        for process in reversed(running):
            processes.stop(process, 10, group=True)
        for listener in listeners:
            listener.close()
        outputs.close()
    # nginx stopped on purpose: its ExecStopPost ends the live broadcasts cleanly.
    nginx = read_unit(units_dir / "streamcat-nginx.service")
    stopped = {**nginx, "Service.Environment": [*nginx["Service.Environment"], "SERVICE_RESULT=success"]}
    ended = run(command_of(nginx["Service.ExecStopPost"][0]), stopped, check_exit=True)
    assert "Ended 0 live broadcast(s)." in ended.stdout
