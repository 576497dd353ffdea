"""A hold-out for the secret corpus: new messages written after the scrubber was frozen, around
tokens of the same documented formats (secret_corpus.VENDORS generators) and new sensitive-name
and look-alike texts. Scored apart by benchmarks/secret_corpus.py."""

from __future__ import annotations

import random

from tests.platform.corpora.secret_corpus import VENDORS, _password

VENDOR_MESSAGES = {
    "aws-access-key-id": "AuthFailure: AWS was not able to validate the provided access"
                         " credentials ({t})",
    "github-classic-token": "Error: Input required and not supplied: token ({t} was rejected)",
    "gitlab-pat": "glab auth status: x gitlab.com: api call failed: GET 401 with token={t}",
    "slack-bot-token": "[ERROR] bolt-app An API error occurred: invalid_auth, token={t}",
    "stripe-secret-key": "StripeAuthenticationError: No such API key: '{t}'",
    "google-api-key": "Firebase: Error (auth/api-key-not-valid.-please-pass-a-valid-api-key.)"
                      " key={t}",
    "openai-project-key": "Error code: 401 - {{'error': {{'message': 'Incorrect API key"
                          " provided: {t}'}}}}",
    "anthropic-key": "ANTHROPIC_API_KEY is set to {t} but the API returned authentication_error",
    "npm-token": "npm notice Publishing to https://registry.npmjs.org/ with token {t} failed",
    "sendgrid-key": "SendGrid returned 403 for apikey {t}; check sender identity",
    "huggingface-token": "huggingface-cli login --token {t} failed: Invalid user token.",
    "vault-token": "Code: 403. Errors: * permission denied (X-Vault-Token: {t})",
    "jwt": "Warning: Error decoding JWT {t}: token is expired",
    "digitalocean-token": "Error: GET https://api.digitalocean.com/v2/account: 401 ({t})",
    "shopify-token": "[API] Invalid API key or access token (unrecognized login or wrong"
                     " password) {t}",
    "databricks-token": "Error: default auth: cannot configure default credentials. token={t}",
    "pypi-token": "HTTPError: 403 Forbidden from https://upload.pypi.org/legacy/ using {t}",
    "twilio-api-key": "Unable to create record: Authenticate (API key {t})",
    "postman-key": "Postman API error: AuthenticationError, x-api-key: {t}",
    "linear-key": "linear-cli: request failed with 401 (key {t})",
}

NAMED_MESSAGES = (
    ("name=value", "Failed to start: SMTP_PASSWORD={v} rejected by mail.example.com"),
    ("name=value", "ERROR ldap bind failed bind_password={v} dn=cn=admin"),
    ("name: value", "yaml: line 8: mapping values are not allowed; api_secret: {v}"),
    ("json", 'Unexpected response for {{"username":"svc","secret":"{v}"}}'),
    ("option", "error: unknown flag --verbosee in: vault login -method=userpass password={v}"),
    ("export", "export GITHUB_TOKEN={v}\nerror: gh: Bad credentials (HTTP 401)"),
    ("connection-string", "Npgsql.PostgresException:"
                          " Host=db;Username=app;Password={v};Database=app"),
    ("url-password", "pika.exceptions.ProbableAuthenticationError: amqp://guest:{v}@rabbit:5672/"),
    ("cookie-header", "upstream returned 401, request had Cookie: _session_id={v}; locale=en"),
    ("authorization-bearer", "curl: (22) The requested URL returned error: 401 -H"
                             " 'Authorization: Bearer {v}'"),
)

LOOK_ALIKES = (
    "ERROR 1045 (28000): Access denied for user 'app'@'%' (using password: YES)",
    "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.",
    "KeyError: 'api_key'",
    "TypeError: __init__() missing 1 required positional argument: 'token'",
    "requests.exceptions.HTTPError: 403 Client Error: Forbidden for url:"
    " https://api.github.com/user",
    "OSError: [Errno 2] No such file or directory: '/etc/ssl/private/server.key'",
    "AttributeError: 'Session' object has no attribute 'cookies_jar'",
    "git checkout 0d1d7fc32 failed: local changes would be overwritten",
    "docker pull python@sha256:6b2d5ae8c3b1f1d0e3a7f4c2b9e8d7a6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0:"
    " not found",
    "ValueError: invalid literal for int() with base 10: '9f86d081884c7d65'",
    "HTTP 429 Too Many Requests, retry-after: 3600, request 7d1c4e9a-2b3f-4a5e-8c6d-0e1f2a3b4c5d",
    "panic: runtime error: index out of range [5] with length 5",
    "ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)",
    "Exception: token_type=bearer is not supported by this endpoint",
    "max_session_age=86400 must be lower than 3600",
    "ModuleNotFoundError: No module named 'secretstorage'",
    "failed to parse version 2.0.0-beta.3+exp.sha.5114f85",
    "jwt.exceptions.DecodeError: Not enough segments",
    "password reset link for user 1042 expired after 24h",
    "blk_7503483334202473044 replicated to 3 datanodes",
)


def cases(seed: int = 7) -> list[dict[str, str | None]]:
    rng = random.Random(seed)
    found: list[dict[str, str | None]] = []
    for kind, message in VENDOR_MESSAGES.items():
        token = VENDORS[kind][0](rng)
        found.append({"kind": kind, "group": "secret", "secret": token,
                      "text": message.format(t=token)})
    for kind, message in NAMED_MESSAGES:
        value = _password(rng)
        found.append({"kind": kind, "group": "secret", "secret": value,
                      "text": message.format(v=value)})
    found += [{"kind": "look-alike", "group": "look-alike", "secret": None, "text": text}
              for text in LOOK_ALIKES]
    return found
