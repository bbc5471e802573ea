"""A private runtime folder and ports for a benchmark, set before Django loads."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path


def isolate(prefix: str, port_base: int) -> str:
    var_dir = tempfile.mkdtemp(prefix=f"streamcat-bench-{prefix}-")
    atexit.register(shutil.rmtree, var_dir, ignore_errors=True)
    os.environ["STREAMCAT_VAR_DIR"] = var_dir
    os.environ.pop("DATABASE_URL", None)
    for offset, name in enumerate(
        [
            "STREAMCAT_HTTP_PORT",
            "STREAMCAT_APP_PORT",
            "STREAMCAT_NGINX_CONTROL_PORT",
            "STREAMCAT_REDIS_PORT",
            "STREAMCAT_PLAYBACK_AUTH_PORT",
        ]
    ):
        os.environ[name] = str(port_base + offset)
    os.environ["STREAMCAT_RTMP_PORT"] = str(port_base + 35)
    os.environ["STREAMCAT_RTMPS_PORT"] = str(port_base + 36)
    os.environ["STREAMCAT_RTMP_INTERNAL_PORT"] = str(port_base + 37)
    os.environ["STREAMCAT_SRT_PORT"] = str(port_base + 38)  # UDP
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamcat.settings")
    return var_dir


def use_test_network() -> None:
    """WebRTC on bench/run.sh's private test network, else on loopback (see tests/environment.py)."""
    if os.environ.get("STREAMCAT_TEST_ICE_INTERFACE"):
        os.environ["STREAMCAT_JANUS_ICE_INTERFACES"] = os.environ["STREAMCAT_TEST_ICE_INTERFACE"]
    else:
        os.environ["STREAMCAT_JANUS_LOOPBACK_ICE"] = "1"
        os.environ.setdefault("STREAMCAT_TEST_ICE_ADDRESS", "127.0.0.1")
    os.environ["STREAMCAT_JANUS_RTP_PORTS"] = "42000-43999"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def with_children(pid: int) -> list[int]:
    """A process and its direct children (nginx's master and its workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *map(int, children.read_text().split())] if children.exists() else [pid]
