"""A self-signed certificate for trying Visitroom on a local network (`run.py serve --self-signed`).

Browsers allow the camera only on https pages (or on localhost), so a phone on the clinic's
Wi-Fi needs https even for a trial. The certificate is kept beside the database and reused
while it still covers the host, so a phone that accepted it once keeps working.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 397
"""Lifetime of a new certificate (browsers refuse server certificates valid much longer)."""
RENEW_DAYS = 14
"""A kept certificate this close to its end is replaced."""


@dataclass(frozen=True)
class SelfSigned:
    """Where the certificate is and what a person needs to recognise it."""

    certfile: Path
    """PEM certificate."""
    keyfile: Path
    """PEM private key (readable by the owner only)."""
    fingerprint: str
    """SHA-256 of the certificate, as browsers show it (AB:CD:...)."""
    created: bool
    """Made now (False: an earlier one was reused)."""


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _fingerprint(cert: x509.Certificate) -> str:
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def _reusable(certfile: Path, keyfile: Path, host: str, now: datetime.datetime) -> x509.Certificate | None:
    if not (certfile.exists() and keyfile.exists()):
        return None
    try:
        cert = x509.load_pem_x509_certificate(certfile.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    if _san(host) not in names or cert.not_valid_after_utc - now < datetime.timedelta(days=RENEW_DAYS):
        return None
    return cert


def ensure_certificate(folder: Path, host: str, *, now: datetime.datetime | None = None) -> SelfSigned:
    """The self-signed certificate for `host` in `folder`: reused when still good, else made."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    certfile, keyfile = folder / "self-signed-cert.pem", folder / "self-signed-key.pem"
    kept = _reusable(certfile, keyfile, host, now)
    if kept is not None:
        return SelfSigned(certfile, keyfile, _fingerprint(kept), created=False)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Visitroom trial")])
    names = [_san(host)] + [n for n in (x509.DNSName("localhost"),
                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
                            if n != _san(host)]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    # The key is created owner-only rather than narrowed after writing.
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem)
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return SelfSigned(certfile, keyfile, _fingerprint(cert), created=True)
