"""The key rules and the verdict lines of the Python verifier, against Secrets Manager on
moto through boto3, with requests signed by the real edge."""

from __future__ import annotations

import time

import pytest

from conftest import HOST, CountingSource, Lines, create_secret, promote, put_pending
from edgeseal_verifier import Request, SecretsManagerSource, Verifier, resolve_settings

T0 = int(time.time())


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now * 1000


def verifier_for(sm, name, **settings):
    source = CountingSource(SecretsManagerSource(sm, name))
    clock, lines = Clock(), Lines()
    verifier = Verifier(secret_id=name, source=source, clock=clock, log=lines.log,
                        metric=lines.metric, log_level="debug", env={}, **settings)
    return verifier, source, clock, lines


def request(fields, path="/orders", query="a=1", request_id=None):
    return Request("GET", HOST, path, query, list(fields.items()), request_id)


def test_warm_requests_make_no_secrets_manager_call(sm, edge):
    name, v1, key = create_secret(sm, "warm")
    verifier, source, clock, _ = verifier_for(sm, name)
    sign = edge.package(v1, key)
    assert verifier.verify(request(sign("/orders", "a=1", T0))).reason == "signature_current"
    assert (source.lists, source.gets) == (1, 1)
    for i in range(200):
        clock.now = T0 + i
        out = verifier.verify(request(sign("/orders", f"a={i}", clock.now), query=f"a={i}"))
        assert out.allowed, out.reason
    assert source.lists + source.gets == 2, "no call per request within the TTL (300 s)"


def test_an_unknown_keyid_refreshes_once_rate_limited_and_finds_awspending(sm, edge):
    name, v1, key = create_secret(sm, "pending")
    verifier, source, clock, _ = verifier_for(sm, name)
    verifier.verify(request(edge.package(v1, key)("/orders", "a=1", T0)))
    version, new = put_pending(sm, name)
    out = verifier.verify(request(edge.package(version, new)("/orders", "a=1", T0)))
    assert (out.allowed, out.stage) == (True, "pending")
    assert source.lists == 2
    forged = edge.package("forged-keyid", new)
    clock.now = T0 + 1
    for _ in range(50):
        assert verifier.verify(request(forged("/orders", "a=1", clock.now))).reason == "unknown_key"
    assert source.lists == 2, "within 10 s of the last on-demand refresh: none"
    clock.now = T0 + 12
    verifier.verify(request(forged("/orders", "a=1", clock.now)))
    assert source.lists == 3


def test_awsprevious_is_accepted_for_the_grace_from_the_refresh_that_saw_it(sm, edge):
    name, v1, key = create_secret(sm, "grace")
    verifier, _, clock, _ = verifier_for(sm, name, cache_ttl_secs=60, previous_key_grace_secs=600)
    sign_old = edge.package(v1, key)
    verifier.verify(request(sign_old("/orders", "a=1", T0)))
    version, _ = put_pending(sm, name)
    promote(sm, name, version, v1)
    clock.now = T0 + 60
    verifier.refresh()
    clock.now = T0 + 659
    inside = verifier.verify(request(sign_old("/orders", "a=1", clock.now)))
    assert (inside.allowed, inside.stage) == (True, "previous")
    clock.now = T0 + 660
    assert verifier.verify(request(sign_old("/orders", "a=1", clock.now))).reason == "previous_key_retired"


def test_stale_keys_serve_while_secrets_manager_fails_until_ttl_plus_max_stale(sm, edge):
    name, v1, key = create_secret(sm, "stale")
    verifier, source, clock, lines = verifier_for(sm, name, cache_ttl_secs=10, max_stale_secs=30)
    sign = edge.package(v1, key)
    verifier.verify(request(sign("/orders", "a=1", T0)))
    source.failing = True
    clock.now = T0 + 39
    assert verifier.verify(request(sign("/orders", "a=1", clock.now))).allowed
    verifier.refresh()  # wait for the background refresh (single flight) to settle
    assert any(l.get("reason") == "secrets_manager_error" and l.get("serving_cached") for l in lines.logs)
    clock.now = T0 + 40
    assert verifier.verify(request(sign("/orders", "a=1", clock.now))).reason == "no_keys"
    assert any(l.get("reason") == "keys_expired" for l in lines.logs)
    source.failing = False
    clock.now = T0 + 51
    assert verifier.verify(request(sign("/orders", "a=1", clock.now))).allowed


def test_every_deny_is_logged_and_counted_as_the_authorizer_does(sm, edge):
    name, v1, key = create_secret(sm, "lines")
    verifier, _, _, lines = verifier_for(sm, name)
    sign = edge.package(v1, key)
    verifier.verify(request(sign("/orders", "a=1", T0 - 400), request_id="req-1"))
    deny = lines.logs[-1]
    assert list(deny) == ["timestamp", "level", "message", "request_id", "reason", "keyid"]
    assert (deny["level"], deny["message"], deny["reason"], deny["keyid"], deny["request_id"]) == (
        "WARN", "deny", "too_old", v1, "req-1")
    assert lines.metrics[-1] == {
        "_aws": {
            "Timestamp": T0 * 1000,
            "CloudWatchMetrics": [{
                "Namespace": "edgeseal",
                "Dimensions": [["Verdict"], ["Verdict", "Reason"]],
                "Metrics": [{"Name": "Requests", "Unit": "Count"}],
            }],
        },
        "Verdict": "deny", "Reason": "too_old", "Requests": 1, "RequestId": "req-1",
    }
    assert all(key not in str(line) for line in lines.logs), "no key material in logs"


def test_settings_use_the_authorizer_names_options_over_the_environment():
    settings = resolve_settings({"cache_ttl_secs": 5}, {"SECRET_ID": "s", "CACHE_TTL_SECS": "60"})
    assert settings == {"SECRET_ID": "s", "CACHE_TTL_SECS": "5"}
    with pytest.raises(ValueError, match="SECRET_ID is required"):
        Verifier(env={}, source=object())
    with pytest.raises(ValueError, match="MAX_AGE_SECS is invalid"):
        Verifier(env={"SECRET_ID": "s", "MAX_AGE_SECS": "soon"}, source=object())
    with pytest.raises(TypeError, match="cache_ttl"):
        Verifier(env={"SECRET_ID": "s"}, source=object(), cache_ttl=5)


def test_the_origins_signing_profile_decides_the_other_is_wrong_profile(sm, edge):
    name, v1, key = create_secret(sm, "profile")
    apigateway_edge = edge.package(v1, key, profile="apigateway")
    raw, _, _, _ = verifier_for(sm, name)
    assert raw.verify(request(apigateway_edge("/orders", "a=1", T0))).reason == "wrong_profile"
    apigateway, _, _, _ = verifier_for(sm, name, signing_profile="apigateway")
    assert apigateway.verify(request(apigateway_edge("/orders", "a=1", T0))).reason == "signature_current"
    with pytest.raises(ValueError, match="SIGNING_PROFILE is invalid"):
        verifier_for(sm, name, signing_profile="fast")
