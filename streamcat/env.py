"""Tiny helpers to read settings from the environment with safe defaults."""

import contextlib
import json
import os
import secrets
from pathlib import Path


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def load_local_secrets(var_dir: Path) -> dict:
    """Secrets generated on first start and kept in var/ (outside git).

    A fresh checkout needs no configuration: the Django secret key, the local
    media plane's access key pair and the nginx callback secret are created here
    once and reused on every start.
    """
    path = var_dir / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    var_dir.mkdir(parents=True, exist_ok=True)
    values = {
        "django_secret_key": secrets.token_urlsafe(50),
        "plane_access_key_id": "AKIA" + secrets.token_hex(8).upper(),
        "plane_secret_access_key": secrets.token_urlsafe(30),
        "media_callback_secret": secrets.token_urlsafe(24),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(values, indent=2))
    tmp.chmod(0o600)
    # Another process may have won the race: keep the first file written.
    with contextlib.suppress(FileExistsError):
        os.link(tmp, path)
    tmp.unlink()
    return json.loads(path.read_text())
