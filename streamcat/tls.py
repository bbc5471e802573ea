"""The certificate for HTTPS, RTMPS and TURN over TLS: the site's own when
STREAMCAT_TLS_CERT / STREAMCAT_TLS_KEY name one; else var/tls/site.pem, which holds
the key and the chain in one file, replaced by one rename. nginx reads it at every
handshake (opening it once for the chain and once for the key, so a handshake at the
very instant of a renewal may fail and be retried; one rename in 60 days).

site.pem comes from certbot (STREAMCAT_TLS=acme, see streamcat.certificates), or from
a CA of this installation's own (var/tls/ca.crt): a browser or OBS that trusts that CA
once trusts the certificates the installation issues itself, for a LAN or a test. The CA
may sign only for the public host and the loopback names (name constraints), so a
device that imports it trusts nothing else on its behalf.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.exceptions import ImproperlyConfigured

CA_VALIDITY = dt.timedelta(days=3650)
VALIDITY = dt.timedelta(days=397)  # the longest browsers accept of any certificate
RENEW_BEFORE = dt.timedelta(days=30)
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")  # the site answers these over HTTP and HTTPS


def tls_folder(var_dir: Path) -> Path:
    return var_dir / "tls"


def site_pem(var_dir: Path) -> Path:
    return tls_folder(var_dir) / "site.pem"


def local_ca_file(var_dir: Path) -> Path:
    return tls_folder(var_dir) / "ca.crt"


def from_local_ca(mode: str, cert: str) -> bool:
    """Whether the site's certificate is the local CA's."""
    return mode != "acme" and not cert


def site_certificate(*, var_dir: Path, host: str, mode: str, cert: str, key: str) -> tuple[Path, Path]:
    """Paths of the certificate chain and its key (the same file unless configured).
    A configured pair must both exist. Otherwise site.pem is issued again by the local
    CA when missing, near its end, or for another host; in ACME mode only until certbot
    has replaced it (nginx needs a certificate to start and answer the CA's challenge)."""
    if cert or key:
        if mode == "acme":
            raise ImproperlyConfigured("STREAMCAT_TLS=acme gets its own certificate: unset STREAMCAT_TLS_CERT/KEY")
        paths = Path(cert), Path(key)
        missing = [str(path) for path in paths if not path.is_file()]
        if not (cert and key) or missing:
            raise ImproperlyConfigured(
                "STREAMCAT_TLS_CERT and STREAMCAT_TLS_KEY must both name readable files"
                + (f"; missing: {', '.join(missing)}" if missing else "")
            )
        return paths
    path = site_pem(var_dir)
    if mode == "acme":
        if host == "localhost" or isinstance(_subject_name(host), x509.IPAddress):
            raise ImproperlyConfigured("STREAMCAT_TLS=acme needs STREAMCAT_PUBLIC_HOST to be a DNS name")
        if not _for_host(path, host):
            issue_local(var_dir, host)
    elif not _still_good(path, host, local_ca(var_dir, host)):
        issue_local(var_dir, host)
    return path, path


def local_ca(var_dir: Path, host: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The installation's CA (ca.crt is what a LAN's devices import), made again only
    when lost, near its end, or when the host it may sign for changes."""
    folder = tls_folder(var_dir)
    cert_path, key_path = local_ca_file(var_dir), folder / "ca.key"
    permitted = _permitted(host)
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        constraints = certificate.extensions.get_extension_for_class(x509.NameConstraints).value
        if (
            _matches(private_key, certificate)
            and certificate.not_valid_after_utc - _now() > VALIDITY
            and list(constraints.permitted_subtrees or []) == permitted
        ):
            return certificate, private_key
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound):
        pass
    folder.mkdir(parents=True, exist_ok=True)
    private_key = ec.generate_private_key(ec.SECP256R1())
    # A name of its own per installation, so two installations' CAs are never confused.
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"StreamCat local CA {os.urandom(4).hex()}")])
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False)
        .sign(private_key, hashes.SHA256())
    )
    _replace(key_path, _key_pem(private_key), mode=0o600)
    _replace(cert_path, certificate.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return certificate, private_key


def issue_local(var_dir: Path, host: str) -> None:
    """site.pem for `host` (and the loopback names), signed by the local CA."""
    ca_certificate, ca_key = local_ca(var_dir, host)
    private_key = ec.generate_private_key(ec.SECP256R1())
    names = [_subject_name(name) for name in dict.fromkeys((host, *LOCAL_NAMES))]
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_certificate.subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_certificate.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    install(var_dir, key_pem=_key_pem(private_key), chain_pem=certificate.public_bytes(serialization.Encoding.PEM))


def install(var_dir: Path, *, key_pem: bytes, chain_pem: bytes) -> bool:
    """Make this key and chain site.pem, in one rename. False if it already was."""
    content = key_pem.rstrip(b"\n") + b"\n" + chain_pem
    path = site_pem(var_dir)
    if path.is_file() and path.read_bytes() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, content, mode=0o600)
    return True


def read_chain(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError):
        return []


def subject_names(certificate: x509.Certificate) -> list[str]:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(name.value) for name in names]


def _for_host(path: Path, host: str) -> bool:
    chain = read_chain(path)
    return bool(chain) and str(_subject_name(host).value) in subject_names(chain[0])


def _still_good(path: Path, host: str, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]) -> bool:
    chain = read_chain(path)
    try:
        private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return False
    if not chain or not _matches(private_key, chain[0]):
        return False
    try:
        chain[0].verify_directly_issued_by(ca[0])  # the CA may have been made again
    except (ValueError, TypeError, InvalidSignature):
        return False
    fresh = chain[0].not_valid_after_utc - _now() > RENEW_BEFORE
    return fresh and _for_host(path, host)


def _matches(private_key, certificate: x509.Certificate) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return private_key.public_key().public_bytes(*spki) == certificate.public_key().public_bytes(*spki)


def _subject_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _permitted(host: str) -> list[x509.GeneralName]:
    """The names the local CA may sign for: the host and the loopback names."""
    names = []
    for name in dict.fromkeys((host, *LOCAL_NAMES)):
        general = _subject_name(name)
        if isinstance(general, x509.IPAddress):
            general = x509.IPAddress(ipaddress.ip_network(general.value))  # one address
        names.append(general)
    return names


def _key_pem(private_key) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _replace(path: Path, content: bytes, *, mode: int) -> None:
    """Write the file whole beside its old self (a name of its own, so two writers never
    rename each other's half-written file), flush it to disk, then rename it over the
    old one. mkstemp makes it private from its first byte."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
