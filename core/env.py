"""Settings from the environment: tiny readers with safe defaults, and the secrets
and keys a fresh checkout makes for itself. A value that cannot mean what its name
says stops the start with a clear message instead of quietly becoming the default."""

import contextlib
import json
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, "").strip() or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r}: use one of {', '.join(choices)}")
    return value


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if number != number or number in {float("inf"), float("-inf")}:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number")
    return number


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in TRUE | FALSE:
        raise ImproperlyConfigured(f"{name}={value!r}: say 1 or 0, true or false, yes or no, on or off")
    return value in TRUE


def write_once(path: Path, content: bytes) -> bytes:
    """Create `path` (mode 600) with `content` unless it exists; return what the file holds.

    Several processes may start at once: the first complete file wins.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(content)
        tmp.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
    return path.read_bytes()


def load_local_secrets(var_dir: Path) -> dict:
    """Secrets generated on first start and kept in var/ (outside git).

    A fresh checkout needs no configuration: the Django secret key, the local
    media plane's access key pair and the nginx callback secret are created here
    once and reused on every start.
    """
    path = var_dir / "secrets.json"
    generators = {
        "django_secret_key": lambda: secrets.token_urlsafe(50),
        "plane_access_key_id": lambda: "AKIA" + secrets.token_hex(8).upper(),
        "plane_secret_access_key": lambda: secrets.token_urlsafe(30),
        "media_callback_secret": lambda: secrets.token_urlsafe(24),
        "janus_api_secret": lambda: secrets.token_urlsafe(24),
        "janus_admin_secret": lambda: secrets.token_urlsafe(24),
        "turn_secret": lambda: secrets.token_urlsafe(32),  # coturn's static-auth-secret
    }
    values = json.loads(path.read_text()) if path.exists() else {}
    if generators.keys() <= values.keys():
        return values
    values = {name: values.get(name) or make() for name, make in generators.items()}
    if path.exists():  # an older file, missing newer entries: completed in place
        tmp = path.with_name(f"secrets.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(values, indent=2))
        tmp.chmod(0o600)
        os.replace(tmp, path)
        return values
    return json.loads(write_once(path, json.dumps(values, indent=2).encode()))


def p384_key(path: Path):
    """The ES384 signing key kept in `path` (PEM, mode 600), made the first time."""
    # Imported here: settings import this module, and need no cryptography.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    new_key = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return serialization.load_pem_private_key(write_once(path, new_key), password=None)
