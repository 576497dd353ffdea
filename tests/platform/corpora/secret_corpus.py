"""Secrets in the formats their vendors document, and look-alikes that must stay, each inside a
realistic error message.

Tokens are random (seeded, so the corpus is the same on every run) in each vendor's documented
shape: prefix, alphabet and length, as the vendors' own docs and announcements describe them
(GitHub's "Behind GitHub's new authentication token formats", GitLab's token prefixes, Slack's
token types, Stripe's key prefixes, AWS's access key IDs, OpenAI and Anthropic key prefixes, and
so on). None is live. Each case is ``{"kind", "group", "text", "secret" | None}``: group
``secret`` must lose ``secret`` and keep the rest, group ``look-alike`` must come out unchanged.
"""

from __future__ import annotations

import base64
import random
import string
from collections.abc import Callable

ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def _run(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _token(*parts: str | tuple[str, int]) -> Callable[[random.Random], str]:
    """A token generator: literal parts and (alphabet, length) runs."""
    def make(rng: random.Random) -> str:
        return "".join(p if isinstance(p, str) else _run(rng, *p) for p in parts)
    return make


def _jwt(rng: random.Random) -> str:
    def part(data: str) -> str:
        return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")
    payload = f'{{"sub":"{rng.randrange(10**6)}","exp":{1_700_000_000 + rng.randrange(10**7)}}}'
    header = part('{"alg":"HS256","typ":"JWT"}')
    return f"{header}.{part(payload)}.{_run(rng, URLSAFE, 43)}"


def _pem(rng: random.Random) -> str:
    body = "\n".join(_run(rng, B64, 64) for _ in range(4))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"


def _basic(rng: random.Random) -> str:
    return base64.b64encode(f"deploy:{_run(rng, ALNUM, 14)}".encode()).decode()


def _luhn_card(rng: random.Random) -> str:
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        value = digit * 2 if index % 2 == 0 else digit
        total += value - 9 if value > 9 else value
    return "".join(map(str, digits + [(10 - total % 10) % 10]))


def _password(rng: random.Random) -> str:
    return _run(rng, ALNUM, 10) + rng.choice("!#%+") + _run(rng, ALNUM, 3)


# kind -> (token generator, messages with {t} where the token goes)
VENDORS: dict[str, tuple[Callable[[random.Random], str], tuple[str, ...]]] = {
    "aws-access-key-id": (_token("AKIA", ("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)), (
        "botocore.exceptions.ClientError: InvalidClientTokenId for key {t}",
        "S3 upload failed (403) using credentials {t} in eu-west-1",
        "boto3 session created with {t}; AccessDenied on s3:PutObject")),
    "github-classic-token": (_token("ghp_", (ALNUM, 36)), (
        "git push failed: remote: Invalid username or password. token {t}",
        "GithubException: 401 Bad credentials (token {t})",
        "fatal: could not read from https://{t}@github.com/org/repo.git")),
    "github-fine-grained-token": (_token("github_pat_", (ALNUM, 22), "_", (ALNUM, 59)), (
        "octokit request failed with 403 for github_pat {t} on /repos/o/r",
        "GH_TOKEN={t} gh release create v1.2.0 failed")),
    "github-app-token": (_token("ghs_", (ALNUM, 36)), (
        "installation token {t} expired while cloning submodules",
        "Error: HttpError: Bad credentials - used {t}")),
    "gitlab-pat": (_token("glpat-", (URLSAFE, 20)), (
        "git clone https://oauth2:{t}@gitlab.com/group/app.git: HTTP 403",
        "GitlabAuthenticationError: 401: 401 Unauthorized with {t}",
        "curl --header 'PRIVATE-TOKEN: {t}' failed with exit code 22")),
    "slack-bot-token": (_token("xoxb-", ("0123456789", 12), "-", ("0123456789", 13), "-",
                                (ALNUM, 24)), (
        "slack_sdk.errors.SlackApiError: invalid_auth for {t}",
        "chat.postMessage returned not_authed (token={t})")),
    "slack-webhook": (_token("https://hooks.slack.com/services/T", (UPPER, 8), "/B", (UPPER, 10),
                             "/", (ALNUM, 24)), (
        "alert delivery failed: POST {t} returned 404 no_service",
        "requests.exceptions.HTTPError: 410 Client Error: Gone for url: {t}")),
    "stripe-secret-key": (_token("sk_live_", (ALNUM, 24)), (
        "stripe.error.AuthenticationError: Invalid API Key provided: {t}",
        "Stripe::AuthenticationError (Expired API Key provided: {t})",
        "payment failed: charge.create with {t} returned 401")),
    "stripe-restricted-key": (_token("rk_live_", (ALNUM, 24)), (
        "PermissionError: The provided key '{t}' does not have access to refunds",)),
    "google-api-key": (_token("AIza", (URLSAFE, 35)), (
        "Geocoding failed: REQUEST_DENIED for https://maps.googleapis.com/maps/api/geocode/json?key={t}",
        "google.api_core.exceptions.PermissionDenied: 403 API key {t} not valid")),
    "openai-project-key": (_token("sk-proj-", (URLSAFE, 74), "T3BlbkFJ", (URLSAFE, 74)), (
        "openai.AuthenticationError: Error code: 401 - Incorrect API key provided: {t}",
        "OPENAI_API_KEY={t} python agent.py: RateLimitError")),
    "openai-legacy-key": (_token("sk-", (ALNUM, 20), "T3BlbkFJ", (ALNUM, 20)), (
        "openai.error.AuthenticationError: Incorrect API key provided: {t}",)),
    "anthropic-key": (_token("sk-ant-api03-", (URLSAFE, 93), "AA"), (
        "anthropic.AuthenticationError: 401 invalid x-api-key {t}",
        "client = Anthropic(api_key=\"{t}\") raised PermissionDeniedError")),
    "npm-token": (_token("npm_", (ALNUM, 36)), (
        "npm ERR! 403 403 Forbidden - PUT https://registry.npmjs.org/pkg - {t} lacks publish",
        "//registry.npmjs.org/:_authToken={t} rejected: E401")),
    "pypi-token": (_token("pypi-AgEIcHlwaS5vcmc", (URLSAFE, 120)), (
        "twine upload failed: 403 Invalid or non-existent authentication for {t}",)),
    "sendgrid-key": (_token("SG.", (URLSAFE, 22), ".", (URLSAFE, 43)), (
        "python_http_client.exceptions.UnauthorizedError: HTTP 401 for key {t}",
        "mail send failed: sendgrid rejected {t}")),
    "twilio-api-key": (_token("SK", (HEX, 32)), (
        "twilio.base.exceptions.TwilioRestException: 20003 Authenticate with {t}",)),
    "mailgun-key": (_token("key-", (HEX, 32)), (
        "mailgun send failed: 401 Forbidden, mailgun api key: {t}",)),
    "mailchimp-key": (_token((HEX, 32), "-us", ("123456789", 2)), (
        "MailchimpMarketing ApiClientError 401 with mailchimp key: {t}",)),
    "shopify-token": (_token("shpat_", (HEX, 32)), (
        "ShopifyAPI::UnauthorizedAccess with X-Shopify-Access-Token {t}",
        "GraphQL call failed (401) for shop.myshopify.com using {t}")),
    "digitalocean-token": (_token("dop_v1_", (HEX, 64)), (
        "doctl: Unable to authenticate you with {t}",)),
    "doppler-token": (_token("dp.pt.", (ALNUM, 43)), (
        "doppler secrets download failed: invalid token {t}",)),
    "vault-token": (_token("hvs.", (URLSAFE, 95)), (
        "hvac.exceptions.Forbidden: permission denied, token {t}",
        "VAULT_TOKEN={t} vault kv get secret/app: 403")),
    "terraform-cloud-token": (_token((ALNUM, 14), ".atlasv1.", (URLSAFE, 67)), (
        "Error: Failed to request discovery document: 401 with {t}",)),
    "databricks-token": (_token("dapi", (HEX, 32)), (
        "databricks.sdk.errors.Unauthenticated: invalid access token {t}",)),
    "postman-key": (_token("PMAK-", (HEX, 24), "-", (HEX, 34)), (
        "newman run failed: 401 AuthenticationError for {t}",)),
    "linear-key": (_token("lin_api_", (ALNUM, 40)), (
        "GraphQL error: Authentication required, not authenticated ({t})",)),
    "huggingface-token": (_token("hf_", (string.ascii_letters, 34)), (
        "huggingface_hub.errors.HfHubHTTPError: 401 Unauthorized for token {t}",
        "OSError: {t} is not a valid token for private repo org/model")),
    "age-secret-key": (_token("AGE-SECRET-KEY-1", (BECH32, 58)), (
        "sops: failed to decrypt with identity {t}",)),
    "planetscale-token": (_token("pscale_tkn_", (URLSAFE, 43)), (
        "pscale: error: unauthorized, service token {t}",)),
    "sentry-user-token": (_token("sntryu_", (HEX, 64)), (
        "sentry-cli error: API request failed, auth token {t} rejected",)),
    "grafana-service-token": (_token("glsa_", (ALNUM, 32), "_", (HEX, 8)), (
        "grafana API 401: invalid service account token {t}",)),
    "dynatrace-token": (_token("dt0c01.", (UPPER, 24), ".", (UPPER + string.ascii_lowercase, 64)), (
        "OneAgent install failed: 401 for Api-Token {t}",)),
    "rubygems-key": (_token("rubygems_", (HEX, 48)), (
        "gem push failed: Access Denied. Please sign up for an account. key {t}",)),
    "nuget-key": (_token("oy2", (string.ascii_lowercase + string.digits, 43)), (
        "dotnet nuget push failed: 403 (The specified API key {t} is invalid)",)),
    "pulumi-token": (_token("pul-", (HEX, 40)), (
        "error: PULUMI_ACCESS_TOKEN must be valid: got 401 for {t}",)),
    "flyio-token": (_token("fo1_", (URLSAFE, 43)), (
        "Error: failed to fetch an image or build from source: unauthorized ({t})",)),
    "prefect-key": (_token("pnu_", (ALNUM, 36)), (
        "prefect.exceptions.PrefectHTTPStatusError: 401 for key {t}",)),
    "alibaba-key-id": (_token("LTAI", (ALNUM, 20)), (
        "aliyunsdkcore.acs_exception: InvalidAccessKeyId.NotFound for {t}",)),
    "azure-ad-client-secret": (_token((ALNUM, 3), ("0123456789", 1), "Q~", (URLSAFE, 34)), (
        "AADSTS7000215: Invalid client secret provided. Secret used: {t}",)),
    "square-token": (_token("EAAA", (URLSAFE, 60)), (
        "square.exceptions.ApiError: 401 UNAUTHORIZED for {t}",)),
    "easypost-key": (_token("EZAK", (ALNUM, 54)), (
        "easypost.errors.AuthorizationError: API key {t} is invalid",)),
    "shippo-token": (_token("shippo_live_", (HEX, 40)), (
        "ShippoAPIError: 401 Token {t} not valid",)),
    "duffel-token": (_token("duffel_live_", (URLSAFE, 43)), (
        "Duffel API 401: unauthorized access token {t}",)),
    "readme-key": (_token("rdme_", (string.ascii_lowercase + string.digits, 70)), (
        "rdme openapi failed: APIKEY_NOTFOUND for {t}",)),
    "scalingo-token": (_token("tk-us-", (URLSAFE, 48)), (
        "scalingo login failed: invalid token {t}",)),
    "brevo-key": (_token("xkeysib-", (HEX, 64), "-", (ALNUM, 16)), (
        "sib_api_v3_sdk.rest.ApiException: (401) Key not found: {t}",)),
    "infracost-key": (_token("ico-", (ALNUM, 32)), (
        "infracost breakdown: Error: Invalid API key {t}",)),
    "jwt": (_jwt, (
        "jwt.exceptions.ExpiredSignatureError: Signature has expired for {t}",
        "401 Unauthorized: access_denied, token {t}")),
    "private-key": (_pem, (
        "paramiko.ssh_exception.SSHException: not a valid RSA private key file:\n{t}",)),
}

# kind -> (value generator, messages with {v}; the name around it must stay)
NAMED: dict[str, tuple[Callable[[random.Random], str], tuple[str, ...]]] = {
    "name=value": (_password, (
        "psycopg2.OperationalError: connection failed, db_password={v} host=db",
        "ValueError: bad config client_secret={v} for tenant acme",
        "DD_API_KEY={v} datadog-agent start: 403 Forbidden",
        "celery worker: broker_url ok, redis_password={v}",
        "PGPASSWORD={v} psql -h db -U app -c 'select 1' failed")),
    "name: value": (_password, (
        "config error at line 12: password: {v}",
        "Invalid settings — secret_key: {v} is too short")),
    "json": (_password, (
        'POST /login 500 body={{"user": "ann", "password": "{v}"}}',
        'KeyError while parsing {{"apiKey": "{v}", "region": "eu"}}')),
    "option": (_password, (
        "mysql --user=root --password={v} app failed: ERROR 1045",
        "command failed: deploy --api-key {v} --env prod",
        "docker login --username ci --password {v} registry.example.com: denied")),
    "export": (_password, (
        "+ export AWS_SECRET_ACCESS_KEY={v}\n+ aws s3 ls: AccessDenied",
        "export DATABASE_PASSWORD={v} && ./migrate failed")),
    "connection-string": (_password, (
        "SqlException: Login failed; Server=db;Database=app;User Id=sa;Password={v};",
        "MySqlException: Access denied; server=db;uid=app;pwd={v};database=shop")),
    "azure-account-key": (_token((B64, 86), "=="), (
        "StorageException: DefaultEndpointsProtocol=https;AccountName=app;AccountKey={v};"
        "EndpointSuffix=core.windows.net",)),
    "azure-shared-access-key": (_token((B64, 43), "="), (
        "ServiceBusError: Endpoint=sb://bus.servicebus.windows.net/;SharedAccessKeyName="
        "RootManageSharedAccessKey;SharedAccessKey={v}",)),
    "cookie-header": (_token((ALNUM, 32)), (
        "403 CSRF verification failed. Request headers: Cookie: sessionid={v}; theme=dark",)),
    "set-cookie-header": (_token((URLSAFE, 40)), (
        "response 302 with Set-Cookie: session={v}; Path=/; HttpOnly; Secure",)),
    "authorization-bearer": (_token((URLSAFE, 40)), (
        "requests.exceptions.HTTPError: 401, headers={{'Authorization': 'Bearer {v}'}}",)),
    "authorization-basic": (_basic, (
        "proxy refused: Authorization: Basic {v}",)),
    "url-password": (_password, (
        "sqlalchemy.exc.OperationalError: could not connect to postgresql://app:{v}@db:5432/prod",
        "redis.exceptions.AuthenticationError: redis://:{v}@cache:6379/0")),
    "token-after-name": (_token((ALNUM, 40)), (
        "AuthError: invalid auth token {v} for user 42",
        "webhook rejected: signing secret {v} does not match")),
    "card-number": (_luhn_card, (
        "PaymentDeclined: card {v} declined (insufficient funds)",
        "ValidationError: cc_number={v} expired")),
}

LOOK_ALIKES: dict[str, tuple[str, ...]] = {
    "uuid": (
        "KeyError: user 3f2c9a1e-8b7d-4c6e-9f0a-1b2c3d4e5f60 not found",
        "TaskRevokedError: task 6d9f1c2b-0e4a-4f8b-a7c3-92e1d5b4f8a0 revoked",
        "aws request id 0f8fad5b-d9cb-469f-a165-70867728950e: ThrottlingException",
        "order 123e4567-e89b-12d3-a456-426614174000 failed to ship",
        "Session 9b2f4c1d-7e6a-4b3c-8d2e-1f0a9b8c7d6e was closed by the server",
        "correlation-id: 7c9e6679-7425-40de-944b-e07fc1f90ae7 timed out after 30s",
        "KubernetesError: pod uid a1b2c3d4-e5f6-4789-abcd-ef0123456789 evicted",
        "idempotency key 5a8b2c1d-3e4f-4a5b-9c6d-7e8f9a0b1c2d already used",
    ),
    "git-sha": (
        "fatal: reference is not a tree: 3a4b5c6d7e8f90123456789abcdef0123456789a",
        "build failed at commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "error: pathspec 'a1b2c3d' did not match any file(s) known to git",
        "HEAD is now at 7f3e2d1 fix parser; tests still failing",
        "merge conflict between 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b and main",
        "pip: Could not find a version that satisfies git+https://github.com/o/r@4e5f6a7",
    ),
    "hex-id": (
        "x-request-id: 4bf92f3577b34da6a3ce929d0e0e4736 returned 502",
        "checksum mismatch: expected md5 d41d8cd98f00b204e9800998ecf8427e",
        "trace_id=0af7651916cd43dd8448eb211c80319c span failed",
        "docker: Error response from daemon: container 8a1c2e3f4b5d6e7f8091a2b3c4d5e6f7 is"
        " not running",
        "mongo ObjectId 507f1f77bcf86cd799439011 not found",
        "etag \"33a64df551425fcc55e4d42a148795d9f25f89d4\" does not match",
    ),
    "digest": (
        "manifest unknown: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "pip: THESE PACKAGES DO NOT MATCH THE HASHES: --hash=sha256:"
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        "npm integrity check failed: sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYX"
        "ysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
    ),
    "version": (
        "ImportError: numpy 1.26.4 is incompatible with this build (needs >=2.0.0rc1)",
        "node v18.19.0 is not supported, use v20.11.1",
        "requires Python 3.11.8 but found 3.9.18",
        "helm chart app-4.2.0+build.1234 failed to render",
        "go: module example.com/lib@v0.0.0-20240102150405-abcdef123456 not found",
        "JDK 17.0.10+7 crashed",
    ),
    "path": (
        "FileNotFoundError: /var/lib/app/data/2024/03/01/export.parquet",
        "ENOENT: no such file or directory, open"
        " 'C:\\Users\\ann\\AppData\\Local\\Temp\\tmp8x2k.json'",
        "PermissionError: /home/ci/.cache/pip/wheels/3a/4b/5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f",
        "template not found: templates/auth/password_reset.html",
        "cannot import tokenizer from /opt/models/secret-santa/tokenizer.json",
        "module not found: src/components/SessionTimeout.tsx",
    ),
    "line-number": (
        'File "app.py", line 4096, in handle',
        "at com.acme.Service.run(Service.java:1337)",
        "SyntaxError at line 123456 column 7",
        "main.go:424 +0x1b4",
    ),
    "phrase": (
        "Access denied for user 'root'@'localhost' (using password: YES)",
        "Access denied for user 'app'@'10.0.0.4' (using password: NO)",
        "jwt token expired",
        "invalid api key",
        'FATAL: password authentication failed for user "postgres"',
        "Session expired, please log in again",
        "missing Authorization header",
        "secret not found in namespace default",
        "CSRF cookie not set.",
        "Invalid token: signature verification failed",
        "api_key is required",
        "auth failed: too many attempts",
        "the access token has expired",
        "refresh_token was revoked",
        "password must contain at least 12 characters",
        "Could not find a session for user 42",
    ),
    "number-in-identifier": (
        "BlockMissingException: blk_-1608999687919862906 missing on 3 nodes",
        "order_id=4539578763621486 not found",
        "user_id=4111111111111111 is banned",
        "job_4539578763621486 failed after 3 retries",
        "invoice INV-4539578763621486 already paid",
        "account 123456789012 lacks s3:ListBucket",
    ),
    "placeholder": (
        "config error: password=${DB_PASSWORD} was not substituted",
        "set api_key=<YOUR_API_KEY> before running",
        "token=***** rejected",
        "secret: REDACTED",
        "password= (empty) rejected",
    ),
    "non-secret-key-name": (
        "cache_key=user:42:profile evicted",
        "partition_key=2024-01-01 has no rows",
        "sort_key=created_at is not indexed",
        "max_tokens=4096 exceeds the model limit",
        "token_count=512 over budget",
        "session_timeout=30 is too low",
        "primary_key=id missing from table users",
    ),
    "other": (
        "ssh: Could not resolve hostname for git@github.com:org/repo.git",
        'WWW-Authenticate: Bearer realm="api", error="invalid_token"',
        "ConnectionRefusedError: 127.0.0.1:6379",
        "sha1=da39a3ee5e6b4b0d3255bfef95601890afd80709 mismatch",
        "cron 2024-03-01T12:00:00Z missed its window",
        "Authorization: Basic realm=\"Restricted\" required",
    ),
    "resource-name": (
        "arn:aws:iam::123456789012:role/deploy is not authorized to perform sts:AssumeRole",
        "pod api-7d9f8b6c5-x2k4q CrashLoopBackOff",
        "bucket my-app-prod-assets-eu-west-1 does not exist",
        "projects/acme-prod/locations/europe-west1/functions/resize not found",
    ),
}


def cases(seed: int = 20261201) -> list[dict[str, str | None]]:
    """Every case of the corpus, the same for a given seed."""
    rng = random.Random(seed)
    found: list[dict[str, str | None]] = []
    for kind, (make, messages) in VENDORS.items():
        for index in range(max(3, len(messages))):
            token = make(rng)
            found.append({"kind": kind, "group": "secret", "secret": token,
                          "text": messages[index % len(messages)].format(t=token)})
    for kind, (make, messages) in NAMED.items():
        for message in messages:
            value = make(rng)
            found.append({"kind": kind, "group": "secret", "secret": value,
                          "text": message.format(v=value)})
    for kind, texts in LOOK_ALIKES.items():
        found += [{"kind": kind, "group": "look-alike", "secret": None, "text": text}
                  for text in texts]
    return found
