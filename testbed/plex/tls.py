"""HTTPS for the Plex emulator: a self-signed certificate made at test time.

Many users reach Plex over https with the certificate Plex or a reverse proxy made for
itself, which no system trust store knows. The emulator serves the same situation on
127.0.0.1: `self_signed_cert` writes a certificate for 127.0.0.1 (its own issuer, so
the file is also the CA bundle that trusts it) and `server_context` loads it.

The certificate is made with the `cryptography` package when it is installed, else
with the `openssl` command line; neither is needed by the plugin itself.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
import subprocess
from typing import Tuple

HOST = "127.0.0.1"


def self_signed_cert(folder: str, host: str = HOST) -> Tuple[str, str]:
    """Write cert.pem and key.pem for `host` (an IP address) into `folder`; return their paths."""
    os.makedirs(folder, exist_ok=True)
    cert_path = os.path.join(folder, "cert.pem")
    key_path = os.path.join(folder, "key.pem")
    try:
        import cryptography  # noqa: F401
    except ImportError:
        _with_openssl(cert_path, key_path, host)
    else:
        _with_cryptography(cert_path, key_path, host)
    return cert_path, key_path


def server_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


def _with_openssl(cert_path: str, key_path: str, host: str) -> None:
    tool = shutil.which("openssl")
    if tool is None:
        raise RuntimeError("making a test certificate needs the cryptography package or the "
                           "openssl command line; neither was found")
    subprocess.run(
        [tool, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
         "-keyout", key_path, "-out", cert_path, "-subj", "/CN=%s" % host,
         "-addext", "subjectAltName=IP:%s" % host,
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,digitalSignature,keyCertSign"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60,
    )


def _with_cryptography(cert_path: str, key_path: str, host: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    with open(key_path, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption()))
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
