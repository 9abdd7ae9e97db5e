"""Settings read from the environment.

PORTAL_ENV selects the profile (development, production, testing). Everything a
deployment must set is listed in README.md under "Production".
"""
from __future__ import annotations

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("PORTAL_INSTANCE_PATH", ROOT / "instance"))


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(env: str) -> str | None:
    """SECRET_KEY from the environment; outside production a key generated once into instance/."""
    key = os.environ.get("SECRET_KEY")
    if key or env == "production":
        return key
    INSTANCE.mkdir(parents=True, exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("PORTAL_DATABASE_URL")
    if url:
        return url
    INSTANCE.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{INSTANCE / 'portal.db'}"


def load(env: str | None = None) -> dict:
    env = env or os.environ.get("PORTAL_ENV", "development")
    production = env == "production"
    return {
        "PORTAL_ENV": env,
        "DEBUG": _bool("PORTAL_DEBUG", False),
        "SECRET_KEY": _secret_key(env),
        "SQLALCHEMY_DATABASE_URI": _database_url(),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Session and remember-me cookies: never readable from scripts, not sent cross-site.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_DURATION": timedelta(days=14),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "MAX_CONTENT_LENGTH": int(os.environ.get("PORTAL_MAX_UPLOAD_MB", "20")) * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("PORTAL_TIMEZONE", "Asia/Shanghai"),
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "portal" / "translations"),
        # Rate limits (Flask-Limiter syntax). Memory storage is per process; use redis:// in production.
        "RATELIMIT_STORAGE_URI": os.environ.get("PORTAL_RATELIMIT_STORAGE", "memory://"),
        "RATELIMIT_ENABLED": _bool("PORTAL_RATELIMIT_ENABLED", True),
        "PORTAL_LOGIN_RATE_LIMIT": os.environ.get("PORTAL_LOGIN_RATE_LIMIT", "20 per minute;200 per hour"),
        "PORTAL_CODE_RATE_LIMIT": os.environ.get("PORTAL_CODE_RATE_LIMIT", "5 per minute;30 per hour"),
        # Outgoing mail. Without a server every message stays in the outbox that admins read.
        "MAIL_SERVER": os.environ.get("PORTAL_MAIL_SERVER", ""),
        "MAIL_PORT": int(os.environ.get("PORTAL_MAIL_PORT", "587")),
        "MAIL_USERNAME": os.environ.get("PORTAL_MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("PORTAL_MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _bool("PORTAL_MAIL_USE_TLS", True),
        "MAIL_USE_SSL": _bool("PORTAL_MAIL_USE_SSL", False),
        "MAIL_SENDER": os.environ.get("PORTAL_MAIL_SENDER", "portal@localhost"),
        # Number of reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
        "PORTAL_PROXY_COUNT": int(os.environ.get("PORTAL_PROXY_COUNT", "0")),
        "PORTAL_BASE_URL": os.environ.get("PORTAL_BASE_URL", ""),
        "PORTAL_DEMO_DATA": _bool("PORTAL_DEMO_DATA", False),
        "UPLOAD_FOLDER": str(Path(os.environ.get("PORTAL_UPLOAD_FOLDER", INSTANCE / "uploads"))),
        # Committees' signing certificates (PKCS#12, passphrases encrypted with SECRET_KEY); never under static/.
        "PORTAL_KEY_FOLDER": str(Path(os.environ.get("PORTAL_KEY_FOLDER", INSTANCE / "keys"))),
        # RFC 3161 timestamp authority for the agreements' PAdES seal; when set and it fails, sealing fails.
        "PORTAL_TSA_URL": os.environ.get("PORTAL_TSA_URL", ""),
        "PORTAL_TSA_TIMEOUT": int(os.environ.get("PORTAL_TSA_TIMEOUT", "10")),
        # Generate and seal agreement PDFs in the request instead of the background pool (tests).
        "PORTAL_AGREEMENT_SEAL_INLINE": _bool("PORTAL_AGREEMENT_SEAL_INLINE", False),
    }


def testing(database_url: str) -> dict:
    """Settings for tests: a fresh key, CSRF on (tests send the token), fast password hashing."""
    return {
        "PORTAL_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-" + secrets.token_hex(8),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_ENABLED": False,
        "PORTAL_ARGON2_FAST": True,
        "PORTAL_AGREEMENT_SEAL_INLINE": True,
        "PORTAL_KEY_FOLDER": str(Path(tempfile.gettempdir()) / f"portal-test-keys-{os.getpid()}"),
        "MAIL_SERVER": "",
    }


class ConfigError(RuntimeError):
    pass


def check_production(config: dict) -> None:
    """Refuse to start a production instance that is not safe to expose."""
    if config.get("PORTAL_ENV") != "production":
        return
    problems = []
    if not config.get("SECRET_KEY"):
        problems.append("SECRET_KEY is not set")
    if config.get("DEBUG"):
        problems.append("debug is on (unset PORTAL_DEBUG)")
    if config.get("PORTAL_DEMO_DATA"):
        problems.append("demo data is enabled (unset PORTAL_DEMO_DATA)")
    if problems:
        raise ConfigError("Refusing to start in production: " + "; ".join(problems))
