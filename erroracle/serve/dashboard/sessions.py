"""Dashboard sessions: an API key is exchanged for a signed cookie, and every form carries a
CSRF token bound to that session.

The cookie holds the key's SHA-256 digest (never the key) and the session's CSRF token, signed
and timestamped with a secret kept in ``<data_root>/state/dashboard_secret.json``. The secret is
made once, before the replicas start (``ensure_secret``), so that every ingress replica accepts
every session. Each request looks the digest up in the keyring again, so a key removed from the
keys file ends its sessions at the next reload of the keyring.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass

import pyarrow.fs as pafs
from itsdangerous import BadSignature, URLSafeTimedSerializer

from erroracle.platform.config import Config
from erroracle.platform.state_files import StateFiles

__all__ = ["COOKIE", "Session", "Sessions", "ensure_secret"]

COOKIE = "erroracle_session"
_SECRET = "dashboard_secret.json"
SESSION_SECONDS = 12 * 3600
LOGIN_FORM_SECONDS = 3600


def ensure_secret(config: Config) -> str:
    """The dashboard's signing secret, created on first use."""
    state = StateFiles(config.data_root, "state")
    stored = state.read(_SECRET)
    if isinstance(stored, dict) and stored.get("secret"):
        return stored["secret"]
    secret = secrets.token_urlsafe(32)
    state.write(_SECRET, {"secret": secret})
    if isinstance(state.fs, pafs.LocalFileSystem):
        os.chmod(state.path(_SECRET), 0o600)  # with it and keys.json, anyone could sign a session
    return secret


@dataclass(frozen=True)
class Session:
    """A logged-in person: which key, and the token their forms must send back."""

    key_digest: str
    csrf: str

    def accepts(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf)


class Sessions:
    """Signs and reads session cookies and login-form tokens."""

    def __init__(self, secret: str) -> None:
        self._cookies = URLSafeTimedSerializer(secret, salt="erroracle-session")
        self._login = URLSafeTimedSerializer(secret, salt="erroracle-login")

    def start(self, key_digest: str) -> tuple[str, Session]:
        """A new session for this key: the cookie's value and the session."""
        session = Session(key_digest, secrets.token_urlsafe(24))
        return self._cookies.dumps([session.key_digest, session.csrf]), session

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, or None when it is missing, forged or too old."""
        if not cookie:
            return None
        try:
            key_digest, csrf = self._cookies.loads(cookie, max_age=SESSION_SECONDS)
        except (BadSignature, ValueError, TypeError):
            return None
        return Session(key_digest, csrf)

    def login_token(self) -> str:
        """The CSRF token of the login form, which has no session yet."""
        return self._login.dumps(secrets.token_hex(8))

    def login_token_valid(self, token: str | None) -> bool:
        if not token:
            return False
        try:
            self._login.loads(token, max_age=LOGIN_FORM_SECONDS)
        except BadSignature:
            return False
        return True
