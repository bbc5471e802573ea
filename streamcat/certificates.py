"""Keeps the site's certificate valid: the stack part `certificates`
(`python -m streamcat.certificates`).

With STREAMCAT_TLS=acme it runs certbot, the ACME client the Let's Encrypt project
keeps and Debian packages, in webroot mode: nginx already serves port 80 and keeps
serving it, so certbot only writes the CA's challenge file where nginx answers
`/.well-known/acme-challenge/`, and needs no privileges, no port and no restart of
anything. certbot renews when the certificate is within 30 days of its end; the new
one becomes site.pem in one rename, which nginx reads at its next TLS handshake, so a
renewal cuts no live broadcast. Otherwise the local CA's certificate is issued again
before it runs out. A failed attempt is tried again sooner, backing off to an hour.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from django.conf import settings

from streamcat import tls

log = logging.getLogger("streamcat.certificates")
CERT_NAME = "streamcat"  # certbot's name for the lineage under acme/config/live/
# Seconds before trying again after a failure, doubling. Let's Encrypt allows 5 failed
# validations per host name an hour: a first start before DNS points here spends at
# most 4 of them in its first hour.
RETRY_FIRST, RETRY_MOST = 300, 3600


class CertificateError(Exception):
    pass


def acme_folder(var_dir: Path) -> Path:
    return var_dir / "acme"


def webroot(var_dir: Path) -> Path:
    """What nginx serves at /.well-known/acme-challenge/ (under it)."""
    return acme_folder(var_dir) / "webroot"


def certbot_command(var_dir: Path) -> list[str]:
    folder = acme_folder(var_dir)
    contact = ["--email", settings.ACME_EMAIL] if settings.ACME_EMAIL else ["--register-unsafely-without-email"]
    return [
        "certbot",
        "certonly",
        "--non-interactive",
        "--agree-tos",
        *contact,
        "--server",
        settings.ACME_SERVER,
        "--webroot",
        "--webroot-path",
        str(webroot(var_dir)),
        "--domain",
        settings.PUBLIC_HOST,
        "--cert-name",
        CERT_NAME,
        "--key-type",
        "ecdsa",
        "--keep-until-expiring",  # a no-op until 30 days before the end
        "--config-dir",
        str(folder / "config"),
        "--work-dir",
        str(folder / "work"),
        "--logs-dir",
        str(var_dir / "log" / "certbot"),
    ]


def obtain_or_renew(var_dir: Path) -> bool:
    """Run certbot; make what it holds site.pem. True if site.pem changed."""
    webroot(var_dir).mkdir(parents=True, exist_ok=True)
    result = subprocess.run(certbot_command(var_dir), capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise CertificateError(f"certbot exited with {result.returncode}: {result.stderr.strip()[-2000:]}")
    live = acme_folder(var_dir) / "config" / "live" / CERT_NAME
    return tls.install(
        var_dir, key_pem=(live / "privkey.pem").read_bytes(), chain_pem=(live / "fullchain.pem").read_bytes()
    )


def refresh(var_dir: Path) -> bool:
    """One check. True if site.pem changed."""
    if settings.TLS_CERT:
        return False  # the site's own: whoever configured it renews it
    if settings.TLS == "acme":
        return obtain_or_renew(var_dir)
    before = tls.site_pem(var_dir).read_bytes() if tls.site_pem(var_dir).exists() else b""
    tls.site_certificate(var_dir=var_dir, host=settings.PUBLIC_HOST, mode=settings.TLS, cert="", key="")
    return tls.site_pem(var_dir).read_bytes() != before


def tell_turn_server(var_dir: Path) -> None:
    """coturn reads its certificate at start, and again on SIGUSR2 (relays go on)."""
    with contextlib.suppress(OSError, ValueError):  # not running: it reads the new file when it starts
        pid = int((var_dir / "turn" / "turnserver.pid").read_text().strip())
        # A pid file outlives its process, and SIGUSR2 would end whatever got the number.
        if Path(f"/proc/{pid}/comm").read_text().strip() == "turnserver":
            os.kill(pid, signal.SIGUSR2)


def wait_for_nginx(timeout: float = 60) -> None:
    """The CA's challenge is answered by nginx: the first attempt waits until it listens
    (the stack starts parts in order but does not wait for each)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", settings.HTTP_PORT), timeout=1):
            return
        time.sleep(0.5)


def run_forever(var_dir: Path) -> None:
    wait_for_nginx()
    retry = RETRY_FIRST
    while True:
        try:
            if refresh(var_dir):
                log.info("installed a new certificate for %s", settings.PUBLIC_HOST)
                tell_turn_server(var_dir)
            retry, pause = RETRY_FIRST, settings.ACME_RENEW_INTERVAL
        except (CertificateError, OSError, subprocess.SubprocessError) as exc:
            log.error("could not get a certificate for %s (trying again in %d s): %s", settings.PUBLIC_HOST, retry, exc)
            pause, retry = retry, min(retry * 2, RETRY_MOST)
        time.sleep(pause)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamcat.settings")  # settings only; no ORM here
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_forever(settings.VAR_DIR)


if __name__ == "__main__":
    main()
