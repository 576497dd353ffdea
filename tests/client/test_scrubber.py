"""The scrubber's corpus: secrets that must go (with the kind they are marked as) and ordinary
content that must stay exactly as it was."""

from __future__ import annotations

import pytest

from erroracle.client.scrubber import Scrubber, scrub_text, scrub_value

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\nq8Gm2x9k\n-----END RSA PRIVATE KEY-----"
)

# (text, kind that must appear, secret substring that must be gone)
POSITIVES = [
    ("key AKIAIOSFODNN7EXAMPLE used", "aws_key", "AKIAIOSFODNN7EXAMPLE"),
    ("ASIAY34FZKBOKMUTVV7A expired", "aws_key", "ASIAY34FZKBOKMUTVV7A"),
    ("id=AKIAZZZZZZZZZZZZZZZZ,", "aws_key", "AKIAZZZZZZZZZZZZZZZZ"),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_secret",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_secret",
        "wJalrXUtnFEMI",
    ),
    ('"aws_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', "aws_secret", "wJalrXUtnFEMI"),
    ("token ghp_" + "A1b2C3d4E5" * 3 + "abcdef", "github_token", "ghp_A1b2"),
    ("gho_" + "x" * 36, "github_token", "gho_xxx"),
    ("ghs_" + "Z9" * 18 + " rejected", "github_token", "ghs_Z9"),
    ("ghu_" + "q" * 40, "github_token", "ghu_q"),
    ("ghr_" + "R" * 36, "github_token", "ghr_R"),
    (
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
        "github_token",
        "github_pat_11ABC",
    ),
    ("slack xoxb-2345678901-abcdefghijklmnop failed", "slack_token", "xoxb-2345678901"),
    ("xoxp-1111111111-2222222222-abcdefabcdef", "slack_token", "xoxp-1111111111"),
    ("xoxa-2-abcdefghij1234", "slack_token", "xoxa-2-abc"),
    (
        "post to https://hooks.slack.com/services/T0000/B0000/XXXXXXXX failed",
        "slack_webhook",
        "T0000/B0000",
    ),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc denied", "stripe_key", "sk_live_4eC39"),
    ("sk_test_" + "a1B2c3D4e5F6g7H8", "stripe_key", "sk_test_a1B2"),
    ("rk_live_" + "Q" * 24, "stripe_key", "rk_live_QQ"),
    ("pk_test_" + "9" * 20, "stripe_key", "pk_test_99"),
    ("maps key AIzaSyA-1234567890abcdefghijklmnopqrstu", "google_api_key", "AIzaSyA-12345"),
    (f"Authorization: Bearer {JWT}", "jwt", "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"),
    (f"token={JWT}", "jwt", "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"),
    (f"cookie session {JWT};", "jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"),
    ("Authorization: Bearer abc123def456ghi789", "bearer", "abc123def456ghi789"),
    ("authorization: bearer mF_9.B5f-4.1JqM", "bearer", "mF_9.B5f-4.1JqM"),
    ("BEARER 0123456789abcdef0123", "bearer", "0123456789abcdef0123"),
    ("Bearer Zx8aQ2mN4kP9rT6vW3yB5cD7", "bearer", "Zx8aQ2mN4kP9rT6vW3yB5cD7"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "basic_auth", "dXNlcjpwYXNzd29yZA=="),
    ("basic YWRtaW46c2VjcmV0", "basic_auth", "YWRtaW46c2VjcmV0"),
    (PEM, "private_key", "MIIEowIBAAKCAQEA7bq"),
    ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "private_key", "AAAA"),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
        "private_key",
        "b3BlbnNzaC1rZXk",
    ),
    ("-----BEGIN EC PRIVATE KEY-----\ntruncated key material", "private_key", "truncated key"),
    (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nxyz\n-----END PGP PRIVATE KEY BLOCK-----",
        "private_key",
        "xyz",
    ),
    ("postgres://app:hunter2@db:5432/prod", "password", "hunter2"),
    ("mysql://root:p%40ss@localhost/app", "password", "p%40ss"),
    ("redis://:s3cr3t@cache:6379/0", "password", "s3cr3t"),
    ("amqp://guest:guest123@rabbit:5672//", "password", "guest123"),
    ("https://user:tok3n@github.com/org/repo.git", "password", "tok3n"),
    ("mongodb+srv://admin:Zz9!xx@cluster0.mongodb.net/db", "password", "Zz9!xx"),
    ("Server=db;User Id=sa;Password=Str0ng!Pass;", "password", "Str0ng!Pass"),
    ("host=db password=hunter2 sslmode=require", "password", "hunter2"),
    ("PWD=abc12345;UID=me", "password", "abc12345"),
    ("passwd: letmein99", "password", "letmein99"),
    ('{"password": "correct horse"}', "password", "correct"),
    ("api_key=abcd1234efgh", "secret", "abcd1234efgh"),
    ("apikey: 9f8e7d6c5b4a", "secret", "9f8e7d6c5b4a"),
    ("client_secret=shhh-its-secret", "secret", "shhh-its-secret"),
    ("access_token=ya29.a0AfH6SM", "secret", "ya29.a0AfH6SM"),
    ("refresh_token: 1//0gabcdef", "secret", "1//0gabcdef"),
    ("secret_key='django-insecure-xyz'", "secret", "django-insecure-xyz"),
    ("?token=abc123xyz&page=2", "secret", "abc123xyz"),
    ("mail bob.smith@example.com now", "email", "bob.smith@example.com"),
    ("user <alice+tag@mail.co.uk> not found", "email", "alice+tag@mail.co.uk"),
    ("From: ops@corp.internal", "email", "ops@corp.internal"),
    ("contact x_y-z@sub.domain.io", "email", "x_y-z@sub.domain.io"),
    ("card 4111 1111 1111 1111 declined", "card_number", "4111 1111 1111 1111"),
    ("cc=4111111111111111", "card_number", "4111111111111111"),
    ("5500-0000-0000-0004 rejected", "card_number", "5500-0000-0000-0004"),
    ("amex 378282246310005", "card_number", "378282246310005"),
    ("discover 6011111111111117", "card_number", "6011111111111117"),
    ("mc 2223003122003222", "card_number", "2223003122003222"),
    ("jcb 3530111333300000", "card_number", "3530111333300000"),
    ("diners 30569309025904", "card_number", "30569309025904"),
    ("card_number: 4111111111111111", "card_number", "4111111111111111"),
    # sensitive names inside free text: the name stays, the value goes
    ("boto3 read aws_secret_access_key=AbCdEf1234567890abcdEFGH12 from env", "secret",
     "AbCdEf1234567890abcdEFGH12"),
    ("PGPASSWORD=s3cr3tPa55 psql -h db -U app", "password", "s3cr3tPa55"),
    ("disk almost full: password=hunter2", "password", "hunter2"),
    ("DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="
     ";EndpointSuffix=core.windows.net", "secret", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="),
    ("DD_API_KEY=0123456789abcdef0123456789abcdef datadog-agent start", "secret",
     "0123456789abcdef0123456789abcdef"),
    ("Cookie: sessionid=8f14e45fceea167a5a36dedd4bea2543; theme=dark", "session",
     "8f14e45fceea167a5a36dedd4bea2543"),
    ("Set-Cookie: connect.sid=s%3Aabc123.def; Path=/; HttpOnly", "session", "s%3Aabc123.def"),
    ("mysqldump --password hunter2x --host db", "password", "hunter2x"),
    ("export GITHUB_TOKEN=abc123def456ghi789", "secret", "abc123def456ghi789"),
    ('{"client_secret": "correct horse battery staple"}', "secret", "correct horse battery"),
    ("Authorization: token 0123456789abcdef0123", "authorization", "0123456789abcdef0123"),
    ("mysql config password: Pa55w0rd! rejected", "password", "Pa55w0rd!"),
    ("STRIPE_KEY=rk_abc123XYZ789 not set for prod", "secret", "rk_abc123XYZ789"),
    ('{"pan": "4111111111111111"}', "card_number", "4111111111111111"),
    ("charged (4111111111111111).", "card_number", "4111111111111111"),
]

NEGATIVES = [
    "Access denied for user 'root'@'localhost' (using password: YES)",
    "token expired, please log in again",
    "invalid api key",
    "author=Jane released 1.2.0",
    "max_tokens=4096 exceeds the model limit",
    "auth: failed to connect to ldap",
    "session: closed after idle timeout",
    "Field primary_key=True on model User",
    "set password=[Filtered:password] in the config",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b broke the build",
    "request 123e4567-e89b-12d3-a456-426614174000 failed",
    "object id 0x7f3a2b1c4d5e not found",
    "requires numpy>=1.26.4,<2.0 and torch==2.13.0",
    'File "/usr/lib/python3.11/site-packages/requests/api.py", line 59, in request',
    "at com.acme.App.main(App.java:42)",
    "C:\\Users\\build\\src\\Program.cs:line 12",
    "git@github.com:org/repo.git: Permission denied (publickey)",
    "Unexpected token < in JSON at position 0",
    "SyntaxError: unexpected token '}'",
    "max_tokens must be at most 4096",
    "tokenizer failed to load",
    "Basic authentication failed for user admin",
    "bearer token missing from request",
    "The password is too short",
    'password authentication failed for user "postgres"',
    "timestamp 1700000000000 out of range",
    "order 1234567890123 not found",
    "phone 4155552671 invalid",
    "ISBN 9780306406157",
    "card 4111 1111 1111 1112 has a bad checksum",
    "connect to http://localhost:8080/health failed",
    "https://docs.python.org/3/library/exceptions.html#KeyError",
    "redis://cache:6379/0 refused",
    "@app.route('/users/<int:id>') raised",
    "npm ERR! lodash@4.17.21 install failed",
    "image nginx:1.25.3@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
    "KeyError: 'session_id'",
    "ValueError: invalid literal for int() with base 10: 'abc'",
    "ConnectionRefusedError: [Errno 111] Connection refused",
    "version 1.2.3-beta.4+build.5 is not supported",
    "disk /dev/sda1 is 97% full",
    "listening on 0.0.0.0:8000",
    "IPv6 ::1 port 5432",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "AKIA is an AWS prefix",
    "secret: ***",
    "author: Jane Doe",
    "pull request #1234 by octocat",
    "line 42, column 7",
]


@pytest.mark.parametrize(("text", "kind", "secret"), POSITIVES)
def test_secret_is_removed_and_marked(text, kind, secret):
    clean = scrub_text(text)
    assert secret not in clean
    assert f"[Filtered:{kind}]" in clean


# Real identifiers whose digits alone have an issuer prefix and pass the Luhn check (the test
# below proves it), so only where they stand keeps them from being taken for cards.
IDENTIFIERS = [
    ("Receiving block blk_5165786360127153975 src: /10.250.19.102:54106", "5165786360127153975"),
    ("Deleting block blk_-5439682406172672049 file /mnt/hadoop/dfs", "5439682406172672049"),
    ("lookup failed for user_id=4539578763621486", "4539578763621486"),
    ('{"user_id": "u4539578763621486"}', "4539578763621486"),
    ("snowflake id=4611686018427387918 not in shard", "4611686018427387918"),
    ("order ORD-4111111111111111 not found", "4111111111111111"),
    ("event at ts=4102444800007ms dropped", "4102444800007"),
    ("span 4539578763621486abc expired", "4539578763621486"),
]


@pytest.mark.parametrize(("text", "digits"), IDENTIFIERS)
def test_identifiers_are_never_taken_for_card_numbers(text, digits):
    assert "card_number" in scrub_text(f"paid with {digits}")  # on its own it would be a card
    assert scrub_text(text) == text


@pytest.mark.parametrize("text", NEGATIVES)
def test_ordinary_content_is_untouched(text):
    assert scrub_text(text) == text


def test_corpus_is_large_enough():
    assert len(POSITIVES) + len(NEGATIVES) >= 100


def test_scrubbing_is_idempotent():
    for text, _, _ in POSITIVES:
        once = scrub_text(text)
        assert scrub_text(once) == once


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "Password",
        "db_password",
        "passwd",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refreshToken",
        "api_key",
        "apiKey",
        "X-Api-Key",
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        "Set-Cookie",
        "session",
        "sessionid",
        "PHPSESSID_session",
        "csrf_token",
        "private_key",
        "aws_secret_access_key",
        "credentials",
        "auth",
        "jwt",
        "dsn",
    ],
)
def test_sensitive_keys_are_filtered_at_any_depth(key):
    event = {"request": {"headers": [{key: "value-123"}]}, "level": 3}
    clean = scrub_value(event)
    assert "value-123" not in str(clean)
    assert clean["level"] == 3


@pytest.mark.parametrize(
    "key",
    ["author", "max_tokens", "tokenizer", "user", "path", "status", "version", "id", "message"],
)
def test_ordinary_keys_keep_their_values(key):
    assert scrub_value({key: "plain"}) == {key: "plain"}


def test_values_inside_structures_are_scrubbed_by_pattern():
    event = {
        "message": "login as bob@example.com",
        "frames": [{"vars": {"dsn_url": "x"}}],
        "args": ("postgres://a:b1@h/db",),
    }
    clean = scrub_value(event)
    assert clean["message"] == "login as [Filtered:email]"
    assert clean["args"] == ("postgres://a:[Filtered:password]@h/db",)


def test_configured_extras():
    scrubber = Scrubber(extra_keys=["X-Tenant"], extra_patterns={"ticket": r"TCK-\d{6}"})
    assert scrubber.text("see TCK-123456") == "see [Filtered:ticket]"
    assert scrubber.value({"x_tenant": "acme"}) == {"x_tenant": "[Filtered:field]"}


def test_deep_nesting_is_bounded():
    value: dict = {}
    node = value
    for _ in range(100):
        node["child"] = {}
        node = node["child"]
    clean = scrub_value(value)
    depth = 0
    while isinstance(clean, dict):
        clean, depth = clean.get("child"), depth + 1
    assert clean == "[Filtered:too_deep]" and depth <= 21


def test_scrubber_uses_the_standard_library_only():
    import ast
    import sys
    from pathlib import Path

    import erroracle.client._secret_names as names
    import erroracle.client.scrubber as module

    imported: set[str] = set()
    for source in (module, names):  # the scrubber and the one module of ours it imports
        tree = ast.parse(Path(source.__file__).read_text())
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
        imported |= {node.module for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}
    ours = {name for name in imported if name.startswith("erroracle")}
    assert ours <= {"erroracle.client._secret_names"}
    assert {name.split(".")[0] for name in imported - ours} <= (
        set(sys.stdlib_module_names) | {"__future__"})
