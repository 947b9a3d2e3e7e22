"""The product cache (Valkey on AWS, redis-server locally): a client with short timeouts and a
circuit breaker, and the few atomic operations that cache-aside needs.

Every failure (refused, timed out, AUTH token unavailable, breaker open) surfaces as
``CacheUnavailable``, and nothing waits longer than the timeouts below: the read API then
reads the reader, the worker holds its eviction until the cache answers. The cache is never
needed for a correct answer, only for a cheap one.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import redis
from botocore.config import Config
from redis.backoff import NoBackoff
from redis.credentials import CredentialProvider
from redis.retry import Retry

from order_platform.adapters import aws
from order_platform.adapters.breaker import CircuitBreaker
from order_platform.config import Settings
from order_platform.service_layer.ports import CacheUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

CONNECT_TIMEOUT_SECONDS = 0.05
READ_TIMEOUT_SECONDS = 0.05
"""A cache answers in well under a millisecond in the same VPC; tens of milliseconds means it
is down or drowning, and the reader is the better bet. TLS handshakes count against the read
timeout, and happen once per pooled connection."""
RETRIES = 1
"""One immediate retry on a connection error: a pooled connection the server closed (it
restarted, failed over) is replaced without the request noticing."""
FAILURES_TO_OPEN = 5
OPEN_SECONDS = 5.0
"""Five failures in a row and requests stop trying the cache for five seconds; then one
request tries it (half-open) and closes the breaker if it answers."""
MAX_CONNECTIONS = 32
"""Per process; each thread holds at most one at a time, so this is never the limit."""
_SECRET_CLIENT_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                               connect_timeout=1, read_timeout=2)
"""The AUTH token is fetched while a connection opens, on a request's path: bounded."""
TOKEN_RETRY_SECONDS = 5.0
_ERRORS = (redis.RedisError, OSError)


class TokenUnavailable(redis.ConnectionError):
    """The AUTH token could not be fetched. A redis ConnectionError, so that redis-py drops the
    half-opened connection instead of using it unauthenticated."""


class AuthToken(CredentialProvider):
    """The cache's AUTH token from Secrets Manager (``{"password"}``), fetched by ARN on the
    first connection and kept; forgotten after a refused AUTH, so a rotated token is fetched.
    After a failed fetch, connections fail at once for ``TOKEN_RETRY_SECONDS`` instead of
    asking Secrets Manager again on every request."""

    def __init__(self, secrets_client: Any, secret_arn: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = secrets_client
        self._arn = secret_arn
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._failed: tuple[float, str] | None = None

    def get_credentials(self) -> tuple[str]:
        """``(password,)`` for redis-py's AUTH."""
        with self._lock:
            if self._token is None:
                if self._failed and self._clock() - self._failed[0] < TOKEN_RETRY_SECONDS:
                    raise TokenUnavailable(self._failed[1])
                try:
                    self._token = self._fetch()
                except TokenUnavailable as exc:
                    self._failed = (self._clock(), str(exc))
                    raise
            return (self._token,)

    def forget(self) -> None:
        """Fetch again on the next connection."""
        with self._lock:
            self._token = None

    def _fetch(self) -> str:
        try:
            body = json.loads(self._client.get_secret_value(SecretId=self._arn)["SecretString"])
            return str(body["password"])
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenUnavailable(f"secret {self._arn} lacks a password") from exc
        except Exception as exc:  # botocore errors: name the secret, keep the cause
            raise TokenUnavailable(f"cannot fetch secret {self._arn}: {exc}") from exc


# Store an entry with its full TTL, or with the short settling TTL when the product changed
# moments ago (KEYS[2], set by the eviction): the reader that answered may not have replayed
# that change yet, and its row must not be kept for a whole TTL. Atomic with the eviction,
# so an eviction that lands between a miss's read and its fill is seen too.
_FILL = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
# An eviction, atomic as MULTI/EXEC would make it, in one command instead of one per key plus
# MULTI and EXEC (the worker evicts on every order it confirms). KEYS: the changed markers,
# then the entries to delete, then the generations to bump; ARGV: the markers' TTL, and how
# many markers and entries there are.
_EVICT = """
local markers, entries = tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, markers do redis.call('SET', KEYS[i], 1, 'PX', ARGV[1]) end
if entries > 0 then redis.call('DEL', unpack(KEYS, markers + 1, markers + entries)) end
for i = markers + entries + 1, #KEYS do redis.call('INCR', KEYS[i]) end
return 1
"""
# Release a fill lock only if it is still ours (it may have expired and been taken).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Cache:
    """A Valkey/Redis client behind a circuit breaker; every failure is ``CacheUnavailable``."""

    def __init__(self, client: redis.Redis, breaker: CircuitBreaker,
                 token: AuthToken | None = None) -> None:
        self._client = client
        self._token = token
        self.breaker = breaker
        self._fill = client.register_script(_FILL)
        self._release = client.register_script(_RELEASE)
        self._evict = client.register_script(_EVICT)

    def _call(self, operation: Callable[[], T]) -> T:
        if not self.breaker.allow():
            raise CacheUnavailable(f"{self.breaker.name}: breaker open")
        try:
            result = operation()
        except _ERRORS as exc:
            if isinstance(exc, redis.AuthenticationError) and self._token is not None:
                self._token.forget()
            self.breaker.failure(exc)
            raise CacheUnavailable(str(exc)) from exc
        self.breaker.success()
        return result

    def get(self, key: str) -> bytes | None:
        """The value at ``key``, None on a miss."""
        # A client without decode_responses: values are bytes.
        return cast(bytes | None, self._call(lambda: self._client.get(key)))

    def fill(self, key: str, value: bytes, *, ttl_ms: int, changed_marker: str,
             settling_ttl_ms: int) -> bool:
        """Store ``value`` for ``ttl_ms``, or for ``settling_ttl_ms`` while ``changed_marker``
        exists; True when stored with the full TTL."""
        return bool(self._call(lambda: self._fill(keys=[key, changed_marker],
                                                  args=[value, ttl_ms, settling_ttl_ms])))

    def acquire(self, lock_key: str, ttl_ms: int) -> str | None:
        """Take the fill lock ``lock_key`` for at most ``ttl_ms``; its token, or None if taken."""
        token = secrets.token_hex(8)
        taken = self._call(lambda: self._client.set(lock_key, token, nx=True, px=ttl_ms))
        return token if taken else None

    def release(self, lock_key: str, token: str) -> None:
        """Give the fill lock back, if it is still ours."""
        self._call(lambda: self._release(keys=[lock_key], args=[token]))

    def evict(self, keys: Sequence[str], *, markers: Sequence[str], marker_ttl_ms: int,
              generations: Sequence[str] = ()) -> None:
        """In one transaction: set the changed ``markers``, delete ``keys``, and bump the
        ``generations`` (counters that name a family of keys)."""
        self._call(lambda: self._evict(keys=[*markers, *keys, *generations],
                                       args=[marker_ttl_ms, len(markers), len(keys)]))

    def ping(self) -> None:
        """Ask the cache, past the breaker (this is how an outage is seen to end); an answer
        closes the breaker."""
        try:
            self._client.ping()
        except _ERRORS as exc:
            raise CacheUnavailable(str(exc)) from exc
        self.breaker.success()

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()


def connect(url: str, *, token: AuthToken | None = None,
            breaker: CircuitBreaker | None = None) -> Cache:
    """A client for ``url`` (redis:// or rediss://); connects on first use."""
    client = redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=READ_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), RETRIES), max_connections=MAX_CONNECTIONS,
        credential_provider=token, client_name="order-platform")
    return Cache(client, breaker or CircuitBreaker(
        "product cache", failures_to_open=FAILURES_TO_OPEN, open_seconds=OPEN_SECONDS), token)


def from_settings(settings: Settings) -> Cache | None:
    """The process's cache, or None when ``CACHE_URL`` is unset (no cache in this stack)."""
    if not settings.cache_url:
        return None
    token = None
    if settings.cache_auth_secret_arn:
        token = AuthToken(aws.client("secretsmanager", settings, config=_SECRET_CLIENT_CONFIG),
                          settings.cache_auth_secret_arn)
    return connect(settings.cache_url, token=token)
