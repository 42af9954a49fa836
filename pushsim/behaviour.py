"""How the simulator decides what to answer: token prefixes, fault rates, a rate limit, latency."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields

# Deterministic answers by token prefix (for Web Push, the subscription id).
PREFIXES = {
    "unregistered-": "unregistered",  # FCM UNREGISTERED 404, APNs 410 Unregistered, Web Push 410
    "invalid-": "invalid",  # FCM INVALID_ARGUMENT 400, APNs 400 BadDeviceToken, Web Push 404
    "mismatch-": "mismatch",  # FCM SENDER_ID_MISMATCH 403 (others: invalid)
    "unavailable-": "unavailable",  # always 503
    "quota-": "quota",  # always 429 with Retry-After
    "internal-": "internal",  # always 500
}


@dataclass
class Config:
    rate_429: float = 0.0  # probability of a 429 (with Retry-After)
    rate_503: float = 0.0
    rate_500: float = 0.0
    retry_after: int = 1  # seconds, sent with 429s and 503s
    latency_ms: float = 0.0  # added to every answer
    latency_jitter_ms: float = 0.0  # plus up to this much, uniformly
    rate_limit: float = 0.0  # requests per second across all providers; 0 = none
    seed: int | None = None

    def update(self, values: dict) -> None:
        kinds = {f.name: str(f.type).split(" ")[0] for f in fields(self)}
        for name, value in values.items():
            if name not in kinds:
                raise ValueError(f"unknown setting {name!r}")
            # By the declared type: a float setting whose value is 0.0 must not become an int (0.05 → 0).
            cast = {"float": float, "int": int}.get(kinds[name], lambda v: v)
            setattr(self, name, None if value is None else cast(value))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class TokenBucket:
    rate: float
    capacity: float
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Behaviour:
    """Shared by the three providers: one config, one rate limit, one set of counters."""

    def __init__(self, config: Config | None = None) -> None:
        self.initial = config or Config()
        self.reset()

    def reset(self) -> None:
        self.config = Config(**self.initial.as_dict())
        self.random = random.Random(self.config.seed)
        self.bucket: TokenBucket | None = None
        self.flaky_seen: Counter[str] = Counter()
        self.counts: Counter[tuple[str, str]] = Counter()

    def configure(self, values: dict) -> None:
        self.config.update(values)
        if "seed" in values:
            self.random = random.Random(self.config.seed)
        self.bucket = None

    def latency(self) -> float:
        extra = self.random.uniform(0, self.config.latency_jitter_ms) if self.config.latency_jitter_ms else 0.0
        return (self.config.latency_ms + extra) / 1000

    def decide(self, token: str) -> str:
        """One of: ok, unregistered, invalid, mismatch, unavailable, quota, internal, rate_limited."""
        config = self.config
        if config.rate_limit > 0:
            if self.bucket is None:
                self.bucket = TokenBucket(config.rate_limit, max(1.0, config.rate_limit), tokens=config.rate_limit)
            if not self.bucket.take():
                return "rate_limited"
        for prefix, answer in PREFIXES.items():
            if token.startswith(prefix):
                return answer
        if token.startswith("flaky-"):
            # flaky-<n>-...: 503 for the first n sends to this token, then delivered.
            times = token.split("-", 2)[1]
            if times.isdigit() and self.flaky_seen[token] < int(times):
                self.flaky_seen[token] += 1
                return "unavailable"
        roll = self.random.random() if (config.rate_429 or config.rate_503 or config.rate_500) else 1.0
        if roll < config.rate_429:
            return "quota"
        if roll < config.rate_429 + config.rate_503:
            return "unavailable"
        if roll < config.rate_429 + config.rate_503 + config.rate_500:
            return "internal"
        return "ok"

    def count(self, provider: str, outcome: str) -> None:
        self.counts[(provider, outcome)] += 1

    def stats(self) -> dict:
        by_provider: dict[str, dict[str, int]] = {}
        for (provider, outcome), n in self.counts.items():
            by_provider.setdefault(provider, {})[outcome] = n
        totals: Counter[str] = Counter()
        for (_, outcome), n in self.counts.items():
            totals[outcome] += n
        return {"providers": by_provider, "totals": dict(totals), "requests": sum(self.counts.values())}
