"""Amazon SNS messages: is this one really from SNS?

Following the SNS documentation ("Verifying the signatures of Amazon SNS messages"):

- the string to sign is `Name\\nvalue\\n` for each of, in this order, `Message`,
  `MessageId`, `Subject` (a Notification's, only when present), `Timestamp`, `TopicArn`,
  `Type` for a Notification; `Message`, `MessageId`, `SubscribeURL`, `Timestamp`,
  `Token`, `TopicArn`, `Type` for a (Un)SubscriptionConfirmation — the values as they
  are after JSON decoding;
- `SignatureVersion` 1 is SHA1withRSA, 2 is SHA256withRSA, over that string, with the
  public key of the X.509 certificate at `SigningCertURL`;
- that certificate is fetched only over https from an `sns.<region>.amazonaws.com` host
  (`.amazonaws.com.cn` in China), on port 443, at a `/SimpleNotificationService-<hex>.pem`
  path, with no redirects, and cached per URL;
  `SNS_CERTIFICATES` supplies certificates by URL instead of fetching them (offline
  deployments, tests). The URL rule applies to those too;
- the topic must be one the workspace listed (checked by the caller: the signature only
  proves that *someone's* topic on AWS sent it).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.settings import Settings
from app.webhooks.notices import WebhookError, invalid, unauthorized

log = structlog.get_logger()

NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")  # fmt: skip
TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_HOST = re.compile(r"sns\.[a-z]{2}(-[a-z]+){1,2}-\d\.amazonaws\.com(\.cn)?")
_CERT_PATH = re.compile(r"/SimpleNotificationService-[0-9a-f]{1,64}\.pem")
MAX_CERTIFICATE = 16_384  # bytes: an SNS certificate is about 2 kB
MAX_CACHED = 32


def string_to_sign(message: dict[str, Any]) -> bytes:
    """The canonical string SNS signed (module docstring); INVALID when a field is missing."""
    kind = message.get("Type")
    keys = NOTIFICATION_KEYS if kind == "Notification" else CONFIRMATION_KEYS
    out = []
    for key in keys:
        if key == "Subject" and message.get(key) is None:
            continue
        value = message.get(key)
        if not isinstance(value, str):
            raise invalid(f"The SNS message has no {key} (a string).")
        out.append(f"{key}\n{value}\n")
    return "".join(out).encode("utf-8")


def trusted_url(url: Any) -> bool:
    """An https URL on an SNS host (the rule for certificates and SubscribeURL alike)."""
    if not isinstance(url, str) or len(url) > 2000:
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.username is None
        and port in (None, 443)
        and _HOST.fullmatch(parts.hostname or "") is not None
    )


def certificate_url(url: Any) -> bool:
    """A trusted URL whose path is an SNS signing certificate's
    (`/SimpleNotificationService-<hex>.pem`): a forged message cannot make Sieve fetch
    any other page of an AWS host."""
    return trusted_url(url) and _CERT_PATH.fullmatch(urlsplit(str(url)).path) is not None


class Certificates:
    """SNS signing certificates by URL: the configured ones, then fetched ones (cached)."""

    def __init__(self) -> None:
        self._cache: OrderedDict[str, x509.Certificate] = OrderedDict()

    async def get(self, url: str, config: Settings) -> x509.Certificate:
        pem = config.sns_certificates.get(url)
        if pem is not None:
            return _load(pem.encode())
        if url in self._cache:
            self._cache.move_to_end(url)
            return self._cache[url]
        certificate = _load(await _fetch(url, config.sns_fetch_timeout_seconds))
        self._cache[url] = certificate
        while len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)
        return certificate


async def _fetch(url: str, timeout: float) -> bytes:
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            response = await client.get(url)
    except httpx.HTTPError as exc:
        log.warning("sns_certificate_unavailable", url=url, error=str(exc))
        raise WebhookError(
            503, "UNAVAILABLE", "The SNS signing certificate could not be fetched."
        ) from None
    if response.status_code != 200 or len(response.content) > MAX_CERTIFICATE:
        raise WebhookError(503, "UNAVAILABLE", "The SNS signing certificate could not be fetched.")
    return response.content


def _load(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise unauthorized("The SNS signing certificate is not a PEM X.509 certificate.") from None


async def verify(message: dict[str, Any], certificates: Certificates, config: Settings) -> None:
    """Raise a 401 WebhookError unless SNS signed `message` (module docstring)."""
    if message.get("Type") not in TYPES:
        raise invalid(f"Type must be one of {', '.join(TYPES)}.")
    algorithm = _HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise unauthorized("SignatureVersion must be 1 (SHA1withRSA) or 2 (SHA256withRSA).")
    url = message.get("SigningCertURL")
    if not certificate_url(url):
        raise unauthorized(
            "SigningCertURL must be https://sns.<region>.amazonaws.com/SimpleNotificationService-<hex>.pem."
        )
    try:
        signature = base64.b64decode(str(message.get("Signature") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise unauthorized("Signature is not base64.") from None
    signed = string_to_sign(message)
    certificate = await certificates.get(str(url), config)
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise unauthorized("The SNS signing certificate is not valid now.")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise unauthorized("The SNS signing certificate's key is not RSA.")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise unauthorized("The SNS signature does not match the message.") from None


async def confirm_subscription(message: dict[str, Any], config: Settings) -> bool:
    """Fetch SubscribeURL when SNS_CONFIRM_SUBSCRIPTIONS allows it; True when fetched.
    Off (the default), the URL is logged for an operator to open: Sieve never fetches
    a URL it was sent unless told to, and then only on an SNS host."""
    url = message.get("SubscribeURL")
    topic = message.get("TopicArn")
    if not config.sns_confirm_subscriptions:
        log.warning("sns_subscription_pending", topic=topic, subscribe_url=url)
        return False
    if not trusted_url(url):
        raise invalid("SubscribeURL must be an https URL on an sns.<region>.amazonaws.com host.")
    try:
        async with httpx.AsyncClient(
            timeout=config.sns_fetch_timeout_seconds, follow_redirects=False
        ) as client:
            response = await client.get(str(url))
    except httpx.HTTPError as exc:
        log.warning("sns_subscription_failed", topic=topic, error=str(exc))
        raise WebhookError(
            503, "UNAVAILABLE", "SubscribeURL could not be reached; SNS retries."
        ) from None
    if response.status_code != 200:
        log.warning("sns_subscription_failed", topic=topic, status=response.status_code)
        raise WebhookError(503, "UNAVAILABLE", "SubscribeURL did not confirm; SNS retries.")
    log.info("sns_subscription_confirmed", topic=topic)
    return True
