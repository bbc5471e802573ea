"""Driver for coturn, the TURN server: its configuration, rendered at every start.

Browsers and Janus authenticate with time-limited credentials made from a secret
coturn shares with the site (core/turn.py); coturn keeps no users of its own.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

from django.conf import settings
from django.template import Context, Engine

TEMPLATE = "deploy/coturn/turnserver.conf"
# Peers no relay may reach (RFC 6890 special-purpose and private ranges): a TURN server
# whose credentials any viewer gets must not open a way into the machine's networks.
# Loopback is refused by coturn itself unless allow-loopback-peers.
DENIED_PEER_NETWORKS = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "240.0.0.0/4",
    "::ffff:0:0/96",
    "64:ff9b::/96",
    "fc00::/7",
    "fe80::/10",
)


def _range(network: str) -> tuple[str, str]:
    net = ipaddress.ip_network(network)
    return str(net.network_address), str(net.broadcast_address)


def local_addresses() -> list[str]:
    """This machine's own addresses but loopback (Janus's candidates are among them)."""
    listing = subprocess.run(["ip", "-j", "address", "show"], capture_output=True, text=True, check=True).stdout
    return [
        info["local"]
        for interface in json.loads(listing)
        for info in interface.get("addr_info", [])
        if not ipaddress.ip_address(info["local"]).is_loopback and info.get("scope") != "link"
    ]


def listening_ips() -> list[str]:
    """Loopback always (the stack checks it is up there; Janus may use it), and
    TURN_LISTEN's addresses; none at all means every address."""
    wanted = [address.strip() for address in settings.TURN_LISTEN.split(",") if address.strip()]
    if any(ipaddress.ip_address(address).is_unspecified for address in wanted):
        return []
    return list(dict.fromkeys(["127.0.0.1", *wanted]))


def relay_ips() -> list[str]:
    """The addresses relays are opened on: those coturn listens on, but never loopback
    when there is another (a relay on 127.0.0.1 cannot reach a peer on a public address,
    and coturn would hand out its listening addresses' relays in turn); loopback alone
    only on a machine that serves nothing else."""
    listening = listening_ips() or local_addresses()  # no list: every address
    outside = [address for address in listening if not ipaddress.ip_address(address).is_loopback]
    return outside or ["127.0.0.1"]


def render_config(*, var_dir: Path, tls_cert: Path | str, tls_key: Path | str) -> str:
    min_port, _, max_port = settings.TURN_RELAY_PORTS.partition("-")
    external_ips = [address.strip() for address in settings.TURN_PUBLIC_IP.split(",") if address.strip()]
    context = Context(
        {
            "secret": settings.TURN_SECRET,
            "realm": settings.TURN_REALM,
            "port": settings.TURN_PORT,
            "tls_port": settings.TURNS_PORT,
            "listening_ips": listening_ips(),
            "relay_ips": relay_ips(),
            "external_ip": external_ips[0] if external_ips else "",
            "min_port": int(min_port),
            "max_port": int(max_port or min_port),
            "tls_cert": tls_cert,
            "tls_key": tls_key,
            "allow_loopback_peers": settings.TURN_ALLOW_LOOPBACK_PEERS,
            "denied_peer_ranges": [_range(network) for network in DENIED_PEER_NETWORKS],
            "allowed_peer_ips": list(dict.fromkeys([*external_ips, *local_addresses()])),
            "run_dir": var_dir / "turn",
        }
    )
    return Engine(autoescape=False).from_string((settings.BASE_DIR / TEMPLATE).read_text()).render(context)
