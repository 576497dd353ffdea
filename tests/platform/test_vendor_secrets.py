"""gitleaks' vendor rules on the server: the formats users paste are masked, look-alikes stay."""

from __future__ import annotations

import random
import string

import pytest

from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.vendor_secrets import VendorSecrets, entropy, python_regex
from tests.client.test_scrubber import NEGATIVES

_RANDOM = random.Random(17)


def _token(alphabet: str, length: int) -> str:
    return "".join(_RANDOM.choice(alphabet) for _ in range(length))


ALNUM = string.ascii_letters + string.digits
# (message with a secret in it, the rule id that must mark it, the secret)
VENDORS = [
    (f"remote: HTTP Basic: Access denied with {s}", "gitlab-pat", s)
    for s in ["glpat-" + _token(ALNUM, 20)]
] + [
    (f"openai.AuthenticationError: Incorrect API key provided: {s} (401)", "openai-api-key", s)
    for s in ["sk-proj-" + _token(ALNUM + "_-", 58) + "T3BlbkFJ" + _token(ALNUM + "_-", 58)]
] + [
    (f"anthropic.AuthenticationError: invalid x-api-key {s}", "anthropic-api-key", s)
    for s in ["sk-ant-api03-" + _token(ALNUM + "_-", 93) + "AA"]
] + [
    (f"npm ERR! 403 Forbidden - token {s} lacks publish rights", "npm-access-token", s)
    for s in ["npm_" + _token(string.ascii_lowercase + string.digits, 36)]
] + [
    (f"python_http_client.exceptions.UnauthorizedError: key {s} revoked", "sendgrid-api-token", s)
    for s in ["SG." + _token(ALNUM, 22) + "." + _token(ALNUM, 43)]
]


@pytest.fixture(scope="module")
def rules() -> VendorSecrets:
    return VendorSecrets.bundled()


def test_every_shipped_rule_compiles_and_many_vendors_are_covered(rules):
    assert len(rules.rules) >= 200
    vendors = {rule.id.split("-")[0] for rule in rules.rules}
    assert len(vendors) >= 40


@pytest.mark.parametrize(("text", "rule", "secret"), VENDORS, ids=[v[1] for v in VENDORS])
def test_vendor_tokens_are_masked_on_the_server_path(text, rule, secret):
    stored = RecordPreparer()({"message": text}).message
    assert secret not in stored and f"[Filtered:{rule}]" in stored, stored


@pytest.mark.parametrize("text", NEGATIVES)
def test_look_alikes_stay(rules, text):
    assert rules.scrub(text) == text


def test_re2_constructs_become_python():
    assert python_regex(r"\b(p8e-(?i)[a-z0-9]{4})").match("P8E-AbC1")
    assert python_regex(r"pat[[:alnum:]]{3}\z").match("patA1b")
    assert entropy("aaaa") == 0 and entropy("abcd") == 2


def test_a_low_entropy_match_is_not_a_secret(rules):
    weak = "sk-" + "a" * 20 + "T3BlbkFJ" + "a" * 20  # the legacy OpenAI shape, no randomness
    assert rules.scrub(f"key {weak} ") == f"key {weak} "
