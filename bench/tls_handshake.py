"""What reading the certificate at every handshake costs.

StreamCat's nginx names its certificate through a variable (deploy/nginx.conf.template),
so it reads site.pem at each TLS handshake and a renewal needs no reload. This measures
that against the usual fixed path, in the same run: two nginx processes with the same
P-256 certificate from the local CA (streamcat.tls), identical but for the variable,
each given full handshakes (no session reuse) by `openssl s_time` for the same time.
Figures: handshakes a second (one client connection at a time) and nginx's CPU time per
handshake (utime+stime from /proc).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._env import cpu_seconds
from streamcat import tls

CONFIG = """
daemon off;
master_process off;
worker_processes 1;
pid {folder}/nginx-{name}.pid;
error_log {folder}/nginx-{name}.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    map $server_port $site_certificate {{ default {pem}; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {certificate};
        ssl_certificate_key {certificate};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / {{ return 204; }}
    }}
}}
"""


def measure(folder: Path, pem: Path, *, name: str, port: int, certificate: str, seconds: int) -> dict:
    config = folder / f"nginx-{name}.conf"
    config.write_text(CONFIG.format(folder=folder, name=name, pem=pem, port=port, certificate=certificate))
    nginx = subprocess.Popen(["nginx", "-p", str(folder), "-c", str(config)], stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        before = cpu_seconds(nginx.pid)
        result = subprocess.run(
            ["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-time", str(seconds)],
            capture_output=True,
            text=True,
            check=True,
        )
        used = cpu_seconds(nginx.pid) - before
    finally:
        nginx.terminate()
        nginx.wait()
    # "N connections in T real seconds, B bytes read per connection"
    line = next(line for line in result.stdout.splitlines() if "connections in" in line and "real" in line)
    connections, real = int(line.split()[0]), float(line.split()[3])
    return {"per_second": connections / real, "cpu_ms": 1000 * used / connections}


def main(seconds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="streamcat-bench-tls-") as name:
        folder = Path(name)
        pem, _ = tls.site_certificate(var_dir=folder, host="127.0.0.1", mode="self-signed", cert="", key="")
        fixed = measure(folder, pem, name="fixed", port=36443, certificate=str(pem), seconds=seconds)
        read = measure(folder, pem, name="variable", port=36444, certificate="$site_certificate", seconds=seconds)
    print("| nginx's certificate | full handshakes/s (one client) | nginx CPU per handshake |")
    print("|---|---|---|")
    rows = [("fixed path (read at start; renewal needs a reload)", fixed), ("StreamCat: read at each handshake", read)]
    for label, figures in rows:
        print(f"| {label} | {figures['per_second']:.0f} | {figures['cpu_ms']:.2f} ms |")
    print(f"\nExtra nginx CPU per full handshake: {read['cpu_ms'] - fixed['cpu_ms']:.2f} ms.")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
