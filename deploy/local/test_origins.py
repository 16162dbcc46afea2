"""The target origins (origins.py) decide as the AWS services do, on moto's control plane.

    .venv/bin/python -m deploy.local.test_origins

Run by `bash scripts/lint-deploy --template-test` (so by `bash scripts/test`), in-process
with moto's `mock_aws` (about 2 s). Each case is a rule of the service a kinder stand-in
would skip: an API key that exists but is in no plan of the stage, or disabled, is
refused; a new key reaches API Gateway's nodes one after another; WAF's first matching
rule decides, a missing header matches nothing, a statement the stand-in does not
evaluate is an error, never a guess; AppSync refuses a deleted key.
"""
import json
import sys
import time

import boto3
from moto import mock_aws

from . import origins

RESULTS = []
REGION = "eu-west-1"


def case(name):
    def wrap(fn):
        RESULTS.append((name, fn))
        return fn
    return wrap


def admin(service, region=REGION):
    return boto3.client(service, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing")


def rest_api(key_required):
    gw = admin("apigateway")
    api = gw.create_rest_api(name="shop")["id"]
    root = next(r["id"] for r in gw.get_resources(restApiId=api)["items"] if r["path"] == "/")
    res = gw.create_resource(restApiId=api, parentId=root, pathPart="health")["id"]
    gw.put_method(restApiId=api, resourceId=res, httpMethod="GET", authorizationType="NONE", apiKeyRequired=key_required)
    gw.put_integration(restApiId=api, resourceId=res, httpMethod="GET", type="MOCK")
    gw.create_deployment(restApiId=api, stageName="prod")
    return gw, api, f"{api}.execute-api.{REGION}.amazonaws.com"


def get(o, host, headers, path="/prod/health"):
    return o.handle(host, "GET", path, "", headers, b"")[0]


@case("an API key must exist, be enabled and be in a usage plan of the stage")
def api_keys():
    origins.API_KEY_LAG = 0
    gw, api, host = rest_api(True)
    plan = gw.create_usage_plan(name="p", apiStages=[{"apiId": api, "stage": "prod"}])["id"]
    other = gw.create_usage_plan(name="other")["id"]
    linked = gw.create_api_key(name="a", enabled=True, value="a" * 30)["id"]
    gw.create_usage_plan_key(usagePlanId=plan, keyId=linked, keyType="API_KEY")
    elsewhere = gw.create_api_key(name="b", enabled=True, value="b" * 30)["id"]
    gw.create_usage_plan_key(usagePlanId=other, keyId=elsewhere, keyType="API_KEY")
    disabled = gw.create_api_key(name="c", enabled=False, value="c" * 30)["id"]
    gw.create_usage_plan_key(usagePlanId=plan, keyId=disabled, keyType="API_KEY")
    o = origins.TargetOrigins(admin)
    assert get(o, host, {"x-api-key": "a" * 30}) == 200
    assert get(o, host, {}) == 403
    assert get(o, host, {"x-api-key": "b" * 30}) == 403, "a key in another plan is refused"
    assert get(o, host, {"x-api-key": "c" * 30}) == 403, "a disabled key is refused"
    assert get(o, host, {"x-api-key": "z" * 30}) == 403
    assert get(o, host, {"x-api-key": "a" * 30}, "/prod/nothing") == 403, "Missing Authentication Token"


@case("a newly linked key reaches API Gateway's nodes one after another")
def key_lag():
    origins.API_KEY_LAG, origins.POLL = 0.8, 0.05
    try:
        gw, api, host = rest_api(True)
        plan = gw.create_usage_plan(name="p", apiStages=[{"apiId": api, "stage": "prod"}])["id"]
        o = origins.TargetOrigins(admin)
        assert get(o, host, {"x-api-key": "a" * 30}) == 403
        key = gw.create_api_key(name="a", enabled=True, value="a" * 30)["id"]
        gw.create_usage_plan_key(usagePlanId=plan, keyId=key, keyType="API_KEY")
        time.sleep(0.1)
        early = [get(o, host, {"x-api-key": "a" * 30}) for _ in range(3)]
        assert 403 in early and 200 in early, f"within the lag some nodes refuse, some accept: {early}"
        time.sleep(1.0)
        late = [get(o, host, {"x-api-key": "a" * 30}) for _ in range(6)]
        assert late == [200] * 6, late
    finally:
        origins.API_KEY_LAG, origins.POLL = 4.0, 0.3


def web_acl(statement, action, default):
    waf = admin("wafv2")
    vis = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"}
    return waf, waf.create_web_acl(Name="acl", Scope="REGIONAL", DefaultAction={default: {}}, VisibilityConfig=vis,
                                   Rules=[{"Name": "r", "Priority": 0, "Action": {action: {}}, "VisibilityConfig": vis,
                                           "Statement": statement}])["Summary"]


def header_match(value):
    return {"ByteMatchStatement": {"SearchString": value.encode(), "FieldToMatch": {"SingleHeader": {"Name": "X-Origin-Verify"}},
                                   "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "EXACTLY"}}


@case("WAF: the rule on the header decides, in both of the rotator's shapes")
def waf_rules():
    origins.WAF_LAG = 0
    for statement, action, default in ((header_match("v1"), "Allow", "Block"),
                                       ({"NotStatement": {"Statement": header_match("v1")}}, "Block", "Allow")):
        _, api, host = rest_api(False)
        waf, acl = web_acl(statement, action, default)
        waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=f"arn:aws:apigateway:{REGION}::/restapis/{api}/stages/prod")
        o = origins.TargetOrigins(admin)
        assert get(o, host, {"x-origin-verify": "v1"}) == 200, (action, "header names are case-insensitive")
        assert get(o, host, {"x-origin-verify": "v2"}) == 403
        assert get(o, host, {}) == 403, "a missing header matches nothing"
        assert get(o, host, {"x-origin-verify": "v1x"}) == 403, "EXACTLY"
        waf.delete_web_acl(Name="acl", Scope="REGIONAL", Id=acl["Id"], LockToken=acl["LockToken"])


@case("WAF: a statement the stand-in does not evaluate is an error, not a guess")
def waf_unknown():
    origins.WAF_LAG = 0
    _, api, host = rest_api(False)
    waf, acl = web_acl({"GeoMatchStatement": {"CountryCodes": ["FR"]}}, "Allow", "Block")
    waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=f"arn:aws:apigateway:{REGION}::/restapis/{api}/stages/prod")
    o = origins.TargetOrigins(admin)
    assert get(o, host, {}) == 500
    assert o.refused


@case("AppSync accepts listed, unexpired keys only; GetGraphqlApi names the API's endpoint")
def appsync():
    c = admin("appsync")
    api = c.create_graphql_api(name="g", authenticationType="API_KEY")["graphqlApi"]["apiId"]
    key = c.create_api_key(apiId=api)["apiKey"]["id"]
    host = f"{api}.appsync-api.{REGION}.amazonaws.com"
    o = origins.TargetOrigins(admin)
    query = json.dumps({"query": "{ __typename }"}).encode()
    post = lambda h: o.handle(host, "POST", "/graphql", "", h, query)[0]  # noqa: E731
    assert post({"x-api-key": key}) == 200
    assert post({}) == 401
    assert post({"x-api-key": "da2-" + "x" * 26}) == 401
    c.delete_api_key(apiId=api, id=key)
    time.sleep(origins.POLL)
    assert post({"x-api-key": key}) == 401, "a deleted key is refused"
    moto_answer = json.dumps({"graphqlApi": {"apiId": api, "uris": {"GRAPHQL": "http://graphql.uri"}}}).encode()
    fixed = json.loads(o.fix_moto_answer("appsync", REGION, "GET", f"/v1/apis/{api}", 200, moto_answer))
    assert fixed["graphqlApi"]["uris"]["GRAPHQL"] == f"https://{host}/graphql"


def main():
    failed = 0
    for name, fn in RESULTS:
        try:
            with mock_aws():
                fn()
            print(f"ok   {name}")
        except Exception as e:  # noqa: BLE001 - a failed case is reported
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
    print(f"target origins: {len(RESULTS) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
