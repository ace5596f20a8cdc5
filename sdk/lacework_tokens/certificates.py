"""Throw-away self-signed certificates, for the backend's ``--tls-self-signed`` and the plugin.

A client trusts a certificate directly: ``REQUESTS_CA_BUNDLE`` (Python), ``SSL_CERT_FILE`` (Go,
hence Terraform), or the copy Terraform receives in the plugin handshake. The backend's is a
leaf (``CA:FALSE``, no certificate signing): trusting it trusts these names and nothing else,
should its key ever leak. OpenSSL and Go both accept a self-signed leaf as its own anchor.
``cryptography`` is imported on call: it costs tens of milliseconds, which the plugin's
start-up cannot afford when its certificate is cached.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from attrs import field, frozen

__all__ = ["SelfSigned", "self_signed"]


@frozen
class SelfSigned:
    key_pem: bytes = field(repr=False)
    cert_pem: bytes
    cert_der: bytes = field(repr=False)
    not_after: datetime


def self_signed(
    common_name: str,
    *,
    dns_names: Sequence[str] = ("localhost",),
    ip_addresses: Sequence[str] = (),
    valid_for: timedelta,
    client_auth: bool = False,
    leaf: bool = False,
) -> SelfSigned:
    """An ECDSA P-256 certificate and key for the given names, valid from five minutes ago.

    ``leaf=True`` makes it an end-entity certificate that cannot sign others; otherwise it is
    its own CA (like ``openssl req -x509``), as go-plugin's automatic mutual TLS expects.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    public_key = key.public_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    not_after = now + valid_for
    alternative_names: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses
    ]
    alternative_names += [x509.DNSName(dns) for dns in dns_names]
    usages = [ExtendedKeyUsageOID.SERVER_AUTH]
    if client_auth:  # go-plugin's automatic mutual TLS: both ends present this certificate
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(
            x509.BasicConstraints(ca=not leaf, path_length=None if leaf else 0), critical=True
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=not leaf,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return SelfSigned(
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert_pem=certificate.public_bytes(serialization.Encoding.PEM),
        cert_der=certificate.public_bytes(serialization.Encoding.DER),
        not_after=not_after,
    )
