"""Fake credentials for the simulator: an FCM service account, an APNs key, VAPID keys
and the TLS certificate of the simulated APNs. Made locally; of no real account.

    python -m pushsim.credentials --out .pushsim --base-url http://127.0.0.1:9099

Idempotent: existing files are kept. The simulator, started with the same
state dir, accepts exactly these credentials.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

PROJECT_ID = "pushcart-sim"
APNS_KEY_ID = "SIMKEY0001"
APNS_TEAM_ID = "SIMTEAM001"
APNS_TOPIC = "shop.grocery.app"


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def service_account(self) -> Path:
        return self.root / "fcm-service-account.json"

    @property
    def apns_key(self) -> Path:
        return self.root / "apns-key.p8"

    @property
    def apns_meta(self) -> Path:
        return self.root / "apns-key.json"

    @property
    def vapid_private(self) -> Path:
        return self.root / "vapid-private.pem"

    @property
    def vapid_public(self) -> Path:
        return self.root / "vapid-public.txt"

    @property
    def ca_cert(self) -> Path:
        return self.root / "tls" / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.root / "tls" / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.root / "tls" / "server.key"


def _pem_private(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def service_account(base_url: str, key: rsa.RSAPrivateKey | None = None) -> dict:
    """A service-account JSON as Google issues them, pointing at the simulator's token endpoint."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": "sim-key-1",
        "private_key": _pem_private(key).decode(),
        "client_email": f"pushcart@{PROJECT_ID}.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "auth_uri": f"{base_url}/auth",
        "token_uri": f"{base_url}/token",
        "auth_provider_x509_cert_url": f"{base_url}/certs",
        "client_x509_cert_url": f"{base_url}/certs/pushcart",
    }


def apns_key() -> bytes:
    return _pem_private(ec.generate_private_key(ec.SECP256R1()))


def vapid_keys() -> tuple[bytes, str]:
    """A VAPID private key (PEM) and its public key as browsers take it (base64url point)."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return _pem_private(key), base64.urlsafe_b64encode(point).rstrip(b"=").decode()


def _certificates(paths: Paths) -> None:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pushsim local CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths.ca_cert.parent.mkdir(parents=True, exist_ok=True)
    paths.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths.server_key.write_bytes(_pem_private(server_key))


def ensure(root: Path, base_url: str) -> Paths:
    """Create whatever is missing in `root`; keep what is there."""
    paths = Paths(root)
    root.mkdir(parents=True, exist_ok=True)
    if not paths.service_account.exists():
        paths.service_account.write_text(json.dumps(service_account(base_url), indent=2))
    if not paths.apns_key.exists():
        paths.apns_key.write_bytes(apns_key())
        paths.apns_meta.write_text(json.dumps({"key_id": APNS_KEY_ID, "team_id": APNS_TEAM_ID, "topic": APNS_TOPIC}))
    if not paths.vapid_private.exists():
        private, public = vapid_keys()
        paths.vapid_private.write_bytes(private)
        paths.vapid_public.write_text(public)
    if not paths.server_cert.exists():
        _certificates(paths)
    for secret in (paths.service_account, paths.apns_key, paths.vapid_private, paths.server_key):
        secret.chmod(0o600)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=".pushsim", help="directory for the credentials (default .pushsim)")
    parser.add_argument("--base-url", default="http://127.0.0.1:9099", help="the simulator's HTTP base URL")
    args = parser.parse_args()
    paths = ensure(Path(args.out), args.base_url)
    print(f"credentials in {paths.root}/")


if __name__ == "__main__":
    main()
