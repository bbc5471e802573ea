"""The certificate nginx presents to RTMPS publishers: the site's own when
STREAMCAT_TLS_CERT / STREAMCAT_TLS_KEY name one, else a self-signed one for
PUBLIC_HOST that the first start writes to var/tls/ and later starts reuse."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured

VALIDITY = dt.timedelta(days=825)  # the longest that Apple's clients accept
RENEW_BEFORE = dt.timedelta(days=30)


def ingest_certificate(*, var_dir: Path, host: str, cert: str, key: str) -> tuple[Path, Path]:
    """Paths of the certificate chain and its key. A configured pair must both exist;
    the generated one is made again when missing, near its end, or for another host."""
    if cert or key:
        paths = Path(cert), Path(key)
        missing = [str(path) for path in paths if not path.is_file()]
        if not (cert and key) or missing:
            raise ImproperlyConfigured(
                "STREAMCAT_TLS_CERT and STREAMCAT_TLS_KEY must both name readable files"
                + (f"; missing: {', '.join(missing)}" if missing else "")
            )
        return paths
    folder = var_dir / "tls"
    cert_path, key_path = folder / "ingest.crt", folder / "ingest.key"
    if not _still_good(cert_path, key_path, host):
        _generate(cert_path, key_path, host)
    return cert_path, key_path


def _subject_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _still_good(cert_path: Path, key_path: Path, host: str) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return False
    # A crash between writing the key and the certificate leaves a pair that does not match.
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        return False
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    fresh = certificate.not_valid_after_utc - dt.datetime.now(dt.UTC) > RENEW_BEFORE
    return fresh and _subject_name(host) in names


def _generate(cert_path: Path, key_path: Path, host: str) -> None:
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    private_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName([_subject_name(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(private_key, hashes.SHA256())
    )
    key_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Each file is written whole beside its old self and then renamed over it; the key is
    # mode 600 from its first byte.
    _replace(key_path, key_pem, mode=0o600)
    _replace(cert_path, certificate.public_bytes(serialization.Encoding.PEM), mode=0o644)


def _replace(path: Path, content: bytes, *, mode: int) -> None:
    temporary = path.with_suffix(path.suffix + ".new")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    os.replace(temporary, path)
