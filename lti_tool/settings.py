"""Process configuration, read once from environment variables into a frozen object."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lti_tool.errors import ConfigError

DEFAULT_DATA_DIR = Path("var")
DEFAULT_PUSH_THREADS = 4
MAX_PUSH_THREADS = 32


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the process needs from its environment.

    Tenant data (registrations, keys, SIS credentials) is not here: it lives in the database.
    """

    database_url: str
    data_dir: Path
    public_base_url: str
    secret_key: str
    log_level: str
    is_debug: bool
    # MB_REDIS_URL: the RQ job queue's Redis (nightly SIS sync, grade push). None (unset, the embedded
    # default) runs those jobs inline in the process that asks for them.
    redis_url: str | None = None
    # MB_QUEUE_NAME: the RQ queue jobs go to and `mastery-bridge worker run` works on.
    queue_name: str = "mastery-bridge"
    # MB_PUSH_THREADS: grade PUTs in flight at once per SIS connection during a push (1-32). Each thread
    # waits on the SIS most of the time; more than the SIS's own rate limit allows only earns 429s.
    push_threads: int = DEFAULT_PUSH_THREADS


REDIS_URL_SCHEMES = ("redis://", "rediss://", "unix://")
QUEUE_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise ConfigError naming the bad variable."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("MB_DATA_DIR", str(DEFAULT_DATA_DIR)))
    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'mastery-bridge.db'}"
    if "://" not in database_url:
        raise ConfigError(
            f"DATABASE_URL must be a SQLAlchemy URL such as sqlite:///var/x.db, got {database_url!r}"
        )
    public_base_url = env.get("MB_PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    if not public_base_url.startswith(("http://", "https://")):
        raise ConfigError(f"MB_PUBLIC_BASE_URL must start with http:// or https://, got {public_base_url!r}")
    is_debug = env.get("MB_DEBUG", "0").lower() in {"1", "true", "yes"}
    secret_key = env.get("MB_SECRET_KEY", "")
    if not secret_key:
        if not is_debug and env.get("MB_ENV", "development") == "production":
            raise ConfigError("MB_SECRET_KEY is required when MB_ENV=production")
        secret_key = "development-only-secret-key"  # noqa: S105 - never used in production (checked above)
    log_level = env.get("MB_LOG_LEVEL", "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"MB_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
    redis_url = env.get("MB_REDIS_URL", "").strip() or None
    if redis_url is not None and not redis_url.startswith(REDIS_URL_SCHEMES):
        raise ConfigError(
            "MB_REDIS_URL must be a Redis URL such as redis://127.0.0.1:6379/0 (redis://, rediss:// or"
            f" unix://), got {redis_url!r}; leave it unset to run jobs inline"
        )
    queue_name = env.get("MB_QUEUE_NAME", "").strip() or "mastery-bridge"
    if not QUEUE_NAME_PATTERN.fullmatch(queue_name):
        raise ConfigError(
            f"MB_QUEUE_NAME must be 1-100 letters, digits, '.', '_', ':' or '-', got {queue_name!r}"
        )
    raw_threads = env.get("MB_PUSH_THREADS", "").strip() or str(DEFAULT_PUSH_THREADS)
    if not raw_threads.isdigit() or not 1 <= int(raw_threads) <= MAX_PUSH_THREADS:
        raise ConfigError(
            f"MB_PUSH_THREADS must be a whole number from 1 to {MAX_PUSH_THREADS}, got {raw_threads!r}"
        )
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        public_base_url=public_base_url,
        secret_key=secret_key,
        log_level=log_level,
        is_debug=is_debug,
        redis_url=redis_url,
        queue_name=queue_name,
        push_threads=int(raw_threads),
    )
