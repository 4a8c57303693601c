"""AWS SNS message signatures: the string AWS signs, the certificate it signs with, the check.

An SNS endpoint is a public URL, so anyone can POST an SNS-shaped body to it. Only the
signature proves AWS sent it, and only if the certificate really is AWS's: the
SigningCertURL is checked *before* anything is fetched (https, a ``.pem`` path, host exactly
``sns.<region>.amazonaws.com`` or ``….amazonaws.com.cn`` — an attacker can host a ``.pem``
on an S3 bucket under ``amazonaws.com``, hence the strict pattern). The certificate comes
from ``sns_cert_dir`` (air-gapped installs: the file named like the URL's last path segment,
never a network fetch) or is fetched over https with a timeout and a size cap and cached by
URL (AWS rotates certificates under new file names, so a URL's content never changes).

Every failure raises :class:`~commandpost.errors.Forbidden` (the message is not provably
from AWS) except a certificate fetch that fails for network reasons, which raises
:class:`~commandpost.errors.Unavailable` so SNS retries the delivery.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from commandpost.errors import BadRequest, Forbidden, Unavailable

if TYPE_CHECKING:  # httpx and cryptography are imported where SNS needs them: not in every serve's RSS
    import httpx
    from cryptography import x509

SIGNED_KEYS: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
"""The keys AWS signs per message type, in the (byte-sorted) order it signs them."""

OPTIONAL_SIGNED_KEYS = frozenset({"Subject"})
"""Signed only when present (a Notification published without a subject has none)."""

_HASHES = {"1": "SHA1", "2": "SHA256"}
"""SignatureVersion → the name of its hash in ``cryptography.hazmat.primitives.hashes``."""

# sns.<region>.amazonaws.com or sns.<region>.amazonaws.com.cn, region like us-east-1,
# us-gov-west-1, cn-northwest-1. Anchored: no suffix (….amazonaws.com.evil.com) or prefix tricks.
SNS_HOST = re.compile(r"^sns\.[a-z]{2}(?:-[a-z]+)+-\d{1,2}\.amazonaws\.com(?:\.cn)?$")
_CERT_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.pem$")
_UNSAFE_URL_CHARS = re.compile(r"[\s\\\x00-\x1f\x7f]")
_TOKEN_PARAM = re.compile(r"([?&]Token=)[^&#]*", re.IGNORECASE)

FETCH_TIMEOUT_SECONDS = 5.0
MAX_CERT_BYTES = 16 * 1024
"""A PEM certificate is ~2 KiB; anything much larger is not one."""
CERT_CACHE_SIZE = 32


def shown(url: str) -> str:
    """``url`` as an error message or log line may quote it: a ``Token`` query value is masked (a
    SubscribeURL's token confirms the subscription; only admins see it, in ``sns_subscription``)."""
    return _TOKEN_PARAM.sub(r"\1…", url)


def check_sns_url(url: str, *, field: str) -> SplitResult:
    """``url`` if it is https on an AWS SNS host with no userinfo, port or odd characters.

    Used for SigningCertURL (before any fetch) and SubscribeURL (before confirming). Messages
    quote the URL with its token masked (:func:`shown`).
    """
    if _UNSAFE_URL_CHARS.search(url):
        raise Forbidden(f"SNS {field} contains whitespace, a backslash or control characters")
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise Forbidden(f"SNS {field} {shown(url)!r} must use https")
    host = parts.hostname or ""
    if parts.netloc != host:
        raise Forbidden(
            f"SNS {field} {shown(url)!r} must not carry user info, a port or upper-case host letters"
        )
    if not SNS_HOST.match(host):
        raise Forbidden(f"SNS {field} host {host!r} is not an AWS SNS host (sns.<region>.amazonaws.com[.cn])")
    return parts


def check_cert_url(url: str) -> str:
    """The certificate's file name if SigningCertURL is acceptable; raises Forbidden otherwise."""
    parts = check_sns_url(url, field="SigningCertURL")
    if parts.query or parts.fragment:
        raise Forbidden(f"SNS SigningCertURL {url!r} must not have a query or fragment")
    if not parts.path.endswith(".pem"):
        raise Forbidden(f"SNS SigningCertURL {url!r} must point to a .pem file")
    name = parts.path.rsplit("/", 1)[-1]
    if not _CERT_FILE.match(name):
        raise Forbidden(f"SNS SigningCertURL {url!r} has an unexpected file name {name!r}")
    return name


def string_to_sign(message: Mapping[str, str]) -> bytes:
    """The exact bytes AWS signed: ``Key\\nValue\\n`` for each signed key present, in order."""
    kind = message["Type"]
    lines = []
    for key in SIGNED_KEYS[kind]:
        if key in OPTIONAL_SIGNED_KEYS and key not in message:
            continue
        lines.append(f"{key}\n{message[key]}\n")
    return "".join(lines).encode("utf-8")


class CertificateCache:
    """Fetched certificates by URL, least recently used evicted; safe across request threads."""

    def __init__(self, size: int = CERT_CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str) -> x509.Certificate | None:
        with self._lock:
            cert = self._items.get(url)
            if cert is not None:
                self._items.move_to_end(url)
            return cert

    def put(self, url: str, cert: x509.Certificate) -> None:
        with self._lock:
            self._items[url] = cert
            self._items.move_to_end(url)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


CERT_CACHE = CertificateCache()
"""Process-wide: fetched certificates are immutable per URL, so every request may share them."""


def load_certificate(url: str, *, cert_dir: Path | None, http: httpx.Client | None) -> x509.Certificate:
    """The certificate behind an already-checked SigningCertURL: from ``cert_dir`` or fetched."""
    name = check_cert_url(url)
    if cert_dir is not None:
        return _parse_pem(_read_from_dir(cert_dir, name), url)
    cached = CERT_CACHE.get(url)
    if cached is not None:
        return cached
    cert = _parse_pem(_fetch(url, http), url)
    CERT_CACHE.put(url, cert)
    return cert


def verify_signature(
    message: Mapping[str, str],
    *,
    cert_dir: Path | None,
    http: httpx.Client | None,
    now: datetime | None,
) -> None:
    """Raise unless ``message`` (decoded SNS JSON, string values) carries AWS's valid signature.

    The caller has checked that Type and every signed key are present strings. ``now`` checks
    the certificate's validity window (None: not checked).
    """
    version = message.get("SignatureVersion")
    algorithm = _HASHES.get(version or "")
    if algorithm is None:
        raise Forbidden(
            f"SNS SignatureVersion {version!r} is not supported (1 = SHA1withRSA, 2 = SHA256withRSA)"
        )
    url = message.get("SigningCertURL") or ""
    if not url:
        raise BadRequest("SNS message has no SigningCertURL")
    try:
        signature = base64.b64decode(message.get("Signature") or "", validate=True)
    except (binascii.Error, ValueError):
        raise Forbidden("SNS Signature is not valid base64") from None
    if not signature:
        raise Forbidden("SNS message has an empty Signature")
    cert = load_certificate(url, cert_dir=cert_dir, http=http)
    if now is not None and not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise Forbidden(
            f"SNS signing certificate {url} is not valid at {now.isoformat()} "
            f"(valid {cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()})"
        )
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Forbidden(f"SNS signing certificate {url} does not hold an RSA key")
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), getattr(hashes, algorithm)())
    except InvalidSignature:
        raise Forbidden(
            f"SNS signature does not match the message (SignatureVersion {version}, "
            f"certificate {url}): the message was altered or not signed by AWS"
        ) from None


def _read_from_dir(cert_dir: Path, name: str) -> bytes:
    path = cert_dir / name
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CERT_BYTES + 1)
    except FileNotFoundError:
        raise Forbidden(
            f"SNS signing certificate {name} is not in sns_cert_dir {cert_dir} "
            "(copy it there from the SigningCertURL to accept messages signed with it)"
        ) from None
    except OSError as exc:
        raise Forbidden(f"SNS signing certificate {path} cannot be read: {exc.strerror}") from None
    if len(data) > MAX_CERT_BYTES:
        raise Forbidden(f"SNS signing certificate {path} is larger than {MAX_CERT_BYTES} bytes")
    return data


def _fetch(url: str, http: httpx.Client | None) -> bytes:
    import httpx

    client = http or httpx.Client(timeout=FETCH_TIMEOUT_SECONDS)
    try:
        with client.stream("GET", url, timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False) as response:
            if response.status_code != 200:
                raise Unavailable(
                    f"fetching SNS signing certificate {url} answered HTTP {response.status_code}"
                )
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_CERT_BYTES:
                    raise Forbidden(f"SNS signing certificate {url} is larger than {MAX_CERT_BYTES} bytes")
            return bytes(data)
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot fetch SNS signing certificate {url}: {exc}") from None
    finally:
        if http is None:
            client.close()


def _parse_pem(data: bytes, url: str) -> x509.Certificate:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise Forbidden(f"SNS signing certificate {url} is not a PEM X.509 certificate") from None
