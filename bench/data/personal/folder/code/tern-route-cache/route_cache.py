"""Two-tier route cache for Tern.

L1 is a per-process LRU (short TTL, catches a planner's rapid re-plans);
L2 is the shared Redis cluster (longer TTL, shared by all pods).
See work/tern/design-route-cache.md (v1.3) for the reasoning behind the numbers.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import geohash2
import msgpack
import zstandard

log = logging.getLogger("tern.cache")

KEY_VERSION = "v2"
GEOHASH_PRECISION = 6          # ~1.2 km x 0.6 km cells; precision 7 only hit 52% in the prototype
TIME_BUCKET_MINUTES = 15       # departure time is rounded down to a 15-minute bucket (0..95)
VEHICLE_CLASSES = ("van_s", "van_l", "cargo_bike")

L1_MAX_ENTRIES = 20_000
L1_TTL_SECONDS = 60
L2_TTL_SECONDS = 900           # prod default; staging overrides to 600 in config.toml
TTL_JITTER = 0.10              # +/-10% so keys written together don't expire together
STALE_FACTOR = 2               # serve L2 entries up to 2x TTL old if Pathwise is down

BREAKER_MAX_ERRORS = 20        # open the Redis circuit breaker after 20 errors...
BREAKER_WINDOW_SECONDS = 10    # ...within 10 seconds
BREAKER_COOLDOWN_SECONDS = 30

ZSTD_LEVEL = 3

# Default changed to True on 12 Feb 2025 after INC-3317 (was False; prod config had it off).
DEFAULT_COALESCE_MISSES = True


def time_bucket(departure: datetime) -> int:
    """Index of the 15-minute bucket of the day that ``departure`` falls in (0..95)."""
    return (departure.hour * 60 + departure.minute) // TIME_BUCKET_MINUTES


def make_key(origin: tuple[float, float], dest: tuple[float, float], vehicle_class: str,
             departure: datetime) -> str:
    """Cache key for one leg: route:v2:{origin_gh}:{dest_gh}:{vehicle_class}:{dow}:{bucket}.

    Coordinates are snapped to geohash cells for the *key only*; Pathwise is still called with
    the real coordinates of the stop that missed.
    """
    if vehicle_class not in VEHICLE_CLASSES:
        raise ValueError(f"unknown vehicle class {vehicle_class!r}")
    o = geohash2.encode(*origin, precision=GEOHASH_PRECISION)
    d = geohash2.encode(*dest, precision=GEOHASH_PRECISION)
    return f"route:{KEY_VERSION}:{o}:{d}:{vehicle_class}:{departure.weekday()}:{time_bucket(departure)}"


def jittered_ttl(ttl: int, rng: random.Random = random) -> int:
    """TTL with +/-TTL_JITTER applied, never below 1 second."""
    return max(1, round(ttl * (1 + rng.uniform(-TTL_JITTER, TTL_JITTER))))


class LRU:
    """Small thread-safe LRU with per-entry expiry, used as L1."""

    def __init__(self, max_entries: int = L1_MAX_ENTRIES, ttl: int = L1_TTL_SECONDS):
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max, self._ttl = max_entries, ttl
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires, value = item
            if expires < time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def put(self, key: str, value: bytes) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + self._ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)


@dataclass
class CacheStats:
    l1_hits: int = 0
    l2_hits: int = 0
    misses: int = 0
    coalesced: int = 0
    l2_write_errors: int = 0


class RouteCache:
    """L1 -> L2 -> Pathwise, with optional single-flight coalescing of identical misses."""

    def __init__(self, redis, compute: Callable[[dict], dict], *, l2_ttl: int = L2_TTL_SECONDS,
                 coalesce_misses: bool = DEFAULT_COALESCE_MISSES):
        self.redis = redis
        self.compute = compute
        self.l1 = LRU()
        self.l2_ttl = l2_ttl
        self.coalesce_misses = coalesce_misses
        self.stats = CacheStats()
        self._inflight: dict[str, threading.Event] = {}
        self._inflight_lock = threading.Lock()
        self._zc = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        self._zd = zstandard.ZstdDecompressor()

    def get_route(self, request: dict) -> dict:
        key = make_key(request["origin"], request["dest"], request["vehicle_class"], request["departure"])
        if (raw := self.l1.get(key)) is not None:
            self.stats.l1_hits += 1
            return self._decode(raw)
        raw = self._l2_get(key)
        if raw is not None:
            self.stats.l2_hits += 1
            self.l1.put(key, raw)
            return self._decode(raw)
        if self.coalesce_misses:
            return self._coalesced_miss(key, request)
        return self._miss(key, request)

    def _miss(self, key: str, request: dict) -> dict:
        self.stats.misses += 1
        route = self.compute(request)
        raw = self._zc.compress(msgpack.packb(route))
        self.l1.put(key, raw)
        self._l2_put(key, raw, request)
        return route

    def _coalesced_miss(self, key: str, request: dict) -> dict:
        """Only one thread per key calls Pathwise; the others wait for its result (single-flight)."""
        with self._inflight_lock:
            event = self._inflight.get(key)
            leader = event is None
            if leader:
                event = self._inflight[key] = threading.Event()
        if not leader:
            self.stats.coalesced += 1
            event.wait(timeout=5.0)
            if (raw := self.l1.get(key)) is not None:
                return self._decode(raw)
            return self._miss(key, request)   # leader failed or timed out
        try:
            return self._miss(key, request)
        finally:
            with self._inflight_lock:
                self._inflight.pop(key, None)
            event.set()

    def _l2_get(self, key: str) -> bytes | None:
        try:
            return self.redis.get(key)
        except Exception:  # breaker lives in the redis wrapper
            log.warning("L2 get failed for %s", key, exc_info=True)
            return None

    def _l2_put(self, key: str, raw: bytes, request: dict) -> None:
        ttl = jittered_ttl(self.l2_ttl)
        try:
            pipe = self.redis.pipeline()
            pipe.set(key, raw, ex=ttl)
            for gh in (key.split(":")[2], key.split(":")[3]):
                pipe.sadd(f"idx:{gh}", key)
                pipe.expire(f"idx:{gh}", ttl)
            pipe.execute()
        except Exception:
            self.stats.l2_write_errors += 1
            log.warning("L2 write failed for %s", key, exc_info=True)

    def purge_cells(self, cells: set[str]) -> int:
        """Delete every L2 key whose origin or destination cell is in ``cells`` (RoadWatch closures)."""
        deleted = 0
        for gh in cells:
            keys = self.redis.smembers(f"idx:{gh}")
            if keys:
                deleted += self.redis.delete(*keys)
            self.redis.delete(f"idx:{gh}")
        return deleted

    def _decode(self, raw: bytes) -> dict:
        return msgpack.unpackb(self._zd.decompress(raw))
