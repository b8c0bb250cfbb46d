"""Settings: one typed object, read from the environment only when the CLI asks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, Field


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("tocsin", appauthor=False))


class Settings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    ray_address: str | None = None  # None: start a local Ray; "auto" or an address: attach
    namespace: str = "tocsin"
    shards: int = Field(4, ge=1, le=1024)
    database_url: str | None = None  # None: embedded Postgres under data_dir
    admin_token: str | None = None  # None: generated on first start, kept in data_dir
    gateway_replicas: int = Field(1, ge=1)
    gateway_cpus: float = Field(0.25, ge=0)
    # Gateway micro-batching per shard: flush at this many events or after this delay,
    # with at most this many calls in flight.
    batch_max_events: int = Field(500, ge=1)
    # Measured (benchmarks/ingest.py): no delay and one call in flight gave the most
    # events/s; the batch is whatever arrived while the previous call was out.
    batch_max_delay_ms: float = Field(0.0, ge=0)
    batch_max_in_flight: int = Field(1, ge=1)
    # How long an event may wait for its shard before the gateway answers 503.
    shard_timeout_s: float = Field(10.0, gt=0)
    # Per routing key, per gateway replica; generous so that storms are taken, not refused.
    rate_limit_per_s: float = Field(2000.0, gt=0)
    rate_limit_burst: int = Field(10_000, ge=1)
    max_body_bytes: int = Field(512 * 1024, ge=1024)
    key_cache_ttl_s: float = Field(2.0, ge=0)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from TOCSIN_* variables, then the CLI's explicit overrides."""
        env: dict[str, Any] = {}
        for name in cls.model_fields:
            value = os.environ.get(f"TOCSIN_{name.upper()}")
            if value:
                env[name] = value
        env.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**env)

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"
