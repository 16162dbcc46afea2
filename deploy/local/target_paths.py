"""The rotation-target paths of docs/deployment.md §5, each step in the guide's order:
`api-gateway-api-key` and `appsync-api-key` with the API in eu-west-1 (the stack in
us-east-1), `waf` in front of a REST API. Each starts from the setup the target replaces
(the user's API, the distribution sending the current value as an origin custom header,
the secret holding it), deploys the template with the path's parameter file, waits for
`edgeseal status --check`, runs `edgeseal doctor`, then rotates under traffic: requests
through the distribution must all be accepted, requests straight to the origin without
the value all refused. The origins decide as the AWS services do (origins.py).
"""
import json
import secrets as pysecrets
import time

from .cloudfront import from_cloudformation
from .paths import CACHING_DISABLED, PathFailed, wait_status_check

API_REGION = "eu-west-1"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def users_rest_api(run, api_key_required):
    """A REST API the user already has in eu-west-1: `GET /health` (a MOCK integration),
    deployed to stage `prod`; with `api_key_required`, the method requires an API key."""
    gw = run.world.admin("apigateway", API_REGION)
    api = gw.create_rest_api(name="shop", endpointConfiguration={"types": ["REGIONAL"]})["id"]
    root = next(r["id"] for r in gw.get_resources(restApiId=api)["items"] if r["path"] == "/")
    health = gw.create_resource(restApiId=api, parentId=root, pathPart="health")["id"]
    gw.put_method(restApiId=api, resourceId=health, httpMethod="GET", authorizationType="NONE",
                  apiKeyRequired=api_key_required)
    gw.put_integration(restApiId=api, resourceId=health, httpMethod="GET", type="MOCK",
                       requestTemplates={"application/json": '{"statusCode": 200}'})
    gw.create_deployment(restApiId=api, stageName="prod")
    host = f"{api}.execute-api.{API_REGION}.amazonaws.com"
    run.world.add_host(host)
    return api, host


def users_distribution(run, origin_host, origin_path, header, value, methods=("GET", "HEAD")):
    """The user's distribution in front of the origin, sending `header: value` as an
    origin custom header (the setups these targets replace)."""
    behavior = {"TargetOriginId": "origin", "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": CACHING_DISABLED, "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST}
    if len(methods) > 2:
        behavior["AllowedMethods"] = list(methods)
    return run.world.cloudfront.create(from_cloudformation({
        "Comment": "shop", "Enabled": True,
        "Origins": [{"Id": "origin", "DomainName": origin_host, "OriginPath": origin_path,
                     "OriginCustomHeaders": [{"HeaderName": header, "HeaderValue": value}],
                     "CustomOriginConfig": {"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": ["TLSv1.2"]}}],
        "DefaultCacheBehavior": behavior}))


def secret_holding(run, name, field, value):
    """Step 1 of each target: the secret (in the stack's region) holding the value the
    distribution sends now."""
    sm = run.world.admin("secretsmanager")
    return sm.create_secret(Name=name, SecretString=json.dumps({field: value}))["ARN"]


def origin_check(run, host, method, path, headers, body, want):
    status = run.world.dataplane.api(host, method, path, "", headers, body)[0]
    run.log(f"origin check: {method} {host}{path} -> {status} (want {want})")
    if status != want:
        raise PathFailed(f"the user's setup is not what the target replaces: {method} {path} -> {status}, want {want}")


def doctor_sees_a_stale_header(run, secret, dist_id, header, path):
    """After the run: the distribution sends a value that is not AWSCURRENT (edited by
    hand); doctor must fail, naming `origin-header`. The header is put back after."""
    def set_value(value):
        def change(config):
            for h in config.iter("OriginCustomHeader"):
                if h.find("HeaderName").text.lower() == header:
                    old.append(h.find("HeaderValue").text)
                    h.find("HeaderValue").text = value
        return change
    old = []
    run.world.cloudfront.edit(dist_id, set_value("stale-" + pysecrets.token_hex(16)))
    try:
        p = run.cli("doctor", "--secret-id", secret, "--distribution-id", dist_id, "--path", path, expect_ok=False)
        failed = [line for line in p.stdout.splitlines() if "FAIL" in line]
        run.log(f"doctor on a stale {header}: exit {p.returncode}; {failed}")
        if p.returncode == 0 or not any("origin-header" in line for line in failed):
            raise PathFailed(f"doctor passed with a stale {header} on the distribution: {p.stdout[-600:]}")
    finally:
        run.world.cloudfront.edit(dist_id, set_value(old[0]))


def api_gateway_api_key(run):
    """§5 `api-gateway-api-key` (the API Gateway + WAF blog, part 2): a REST API in
    eu-west-1 whose methods require an API key, a usage plan, the blog's key linked to it,
    the distribution sending it as `x-api-key`."""
    api, host = users_rest_api(run, api_key_required=True)
    gw = run.world.admin("apigateway", API_REGION)
    plan = gw.create_usage_plan(name="CloudFront_only", apiStages=[{"apiId": api, "stage": "prod"}])["id"]
    value = pysecrets.token_hex(20)
    key = gw.create_api_key(name=f"CloudFront-{int(time.time())}", enabled=True, value=value)["id"]
    gw.create_usage_plan_key(usagePlanId=plan, keyId=key, keyType="API_KEY")
    dist = users_distribution(run, host, "/prod", "x-api-key", value)
    origin_check(run, host, "GET", "/prod/health", {"x-api-key": value}, b"", 200)
    origin_check(run, host, "GET", "/prod/health", {}, b"", 403)
    # 1. The secret holds the key CloudFront sends now.
    secret = secret_holding(run, "shop-api-key", "HTTP_API_KEY", value)
    # 2. Deploy; the first rotation runs as the schedule is created.
    params = run.params("api-gateway-api-key.json", ExistingSecretArn=secret, ExistingDistributionId=dist["Id"],
                        OriginUrl=f"https://{host}", ApiKeyUsagePlanId=plan)
    stack = run.deploy("edgeseal", params)
    # 3. Wait for status --check.
    wait_status_check(run, secret, [dist["Id"]], stack=stack)
    # 4. doctor.
    run.doctor(secret, dist["Id"], "/health")
    # Three rotations: the third's createSecret retires the key of the first (no longer
    # labelled, sent by no distribution): unlinked and deleted (apigateway:DELETE).
    counts = run.rotation_under_traffic(stack, secret, dist["DomainName"], host, path="/health",
                                        origin_path="/prod/health", rotations=3)
    doctor_sees_a_stale_header(run, secret, dist["Id"], "x-api-key", "/health")
    return counts


def waf(run):
    """§5 `waf` (AWS's "CloudFront origin security with WAF and Secrets Manager"): a
    regional web ACL on the REST API's stage, default Block, whose rule allows the
    `x-origin-verify` value the distribution sends."""
    api, host = users_rest_api(run, api_key_required=False)
    value = pysecrets.token_urlsafe(24)
    waf_client = run.world.admin("wafv2", API_REGION)
    visibility = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "shop"}
    acl = waf_client.create_web_acl(
        Name="shop-origin-verify", Scope="REGIONAL", DefaultAction={"Block": {}}, VisibilityConfig=visibility,
        Rules=[{"Name": "shopXOriginVerify", "Priority": 0, "Action": {"Allow": {}}, "VisibilityConfig": visibility,
                "Statement": {"ByteMatchStatement": {
                    "SearchString": value.encode(), "FieldToMatch": {"SingleHeader": {"Name": "x-origin-verify"}},
                    "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "EXACTLY"}}}],
    )["Summary"]
    waf_client.associate_web_acl(WebACLArn=acl["ARN"],
                                 ResourceArn=f"arn:aws:apigateway:{API_REGION}::/restapis/{api}/stages/prod")
    dist = users_distribution(run, host, "/prod", "x-origin-verify", value)
    origin_check(run, host, "GET", "/prod/health", {"x-origin-verify": value}, b"", 200)
    origin_check(run, host, "GET", "/prod/health", {}, b"", 403)
    # 1. The secret holds the value CloudFront sends now.
    secret = secret_holding(run, "shop-origin-verify", "HTTP_API_KEY", value)
    # 2. Deploy; the first rotation runs as the schedule is created.
    params = run.params("waf.json", ExistingSecretArn=secret, ExistingDistributionId=dist["Id"],
                        OriginUrl=f"https://{host}", WafWebAclName=acl["Name"], WafWebAclId=acl["Id"])
    stack = run.deploy("edgeseal", params)
    # 3. Wait for status --check.
    wait_status_check(run, secret, [dist["Id"]], stack=stack)
    # 4. doctor.
    run.doctor(secret, dist["Id"], "/health")
    counts = run.rotation_under_traffic(stack, secret, dist["DomainName"], host, path="/health",
                                        origin_path="/prod/health")
    doctor_sees_a_stale_header(run, secret, dist["Id"], "x-origin-verify", "/health")
    if run.world.dataplane.target_origins.refused:
        raise PathFailed(f"the WAF stand-in met statements it does not evaluate: {run.world.dataplane.target_origins.refused[:3]}")
    return counts


GRAPHQL = {"Content-Type": "application/json"}
QUERY = json.dumps({"query": "{ __typename }"}).encode()


def appsync_api_key(run):
    """§5 `appsync-api-key` behind CloudFront: an AppSync API in eu-west-1 with API_KEY
    authorization, its key in the secret the AWS blog's setup made (`{"APIKEY": ...}`),
    the distribution sending the key as `x-api-key`."""
    client = run.world.admin("appsync", API_REGION)
    api = client.create_graphql_api(name="shop", authenticationType="API_KEY")["graphqlApi"]["apiId"]
    key = client.create_api_key(apiId=api, description="the blog's key")["apiKey"]["id"]
    host = f"{api}.appsync-api.{API_REGION}.amazonaws.com"
    run.world.add_host(host)
    dist = users_distribution(run, host, "", "x-api-key", key,
                              methods=("GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"))
    origin_check(run, host, "POST", "/graphql", {"x-api-key": key, **GRAPHQL}, QUERY, 200)
    origin_check(run, host, "POST", "/graphql", GRAPHQL, QUERY, 401)
    # 1. The secret the clients read holds the key.
    secret = secret_holding(run, "shop-appsync-key", "APIKEY", key)
    # 2. Deploy; the first rotation runs as the schedule is created.
    params = run.params("appsync-api-key.json", ExistingSecretArn=secret, ExistingDistributionId=dist["Id"],
                        AppSyncApiId=api)
    stack = run.deploy("edgeseal", params)
    # 3. Wait for status --check.
    wait_status_check(run, secret, [dist["Id"]], stack=stack)
    # 4. doctor.
    run.doctor(secret, dist["Id"], "/graphql")
    counts = run.rotation_under_traffic(stack, secret, dist["DomainName"], host, path="/graphql",
                                        method="POST", body=QUERY, headers=GRAPHQL)
    a_day_later_the_retired_keys_go(run, stack, secret, client, api)
    doctor_sees_a_stale_header(run, secret, dist["Id"], "x-api-key", "/graphql")
    return counts


def a_day_later_the_retired_keys_go(run, stack, secret, client, api):
    """finishSecret marks each demoted key `retired <time>` with an expiry a day ahead
    (AppSync's minimum), and deletes it at a later finishSecret once it has expired
    (rotator/README.md, *Target `appsync-api-key`*): on AWS, the next scheduled rotation.
    Two days pass for the API's keys (deploy/local/moto_server.py says how), then a
    rotation runs: every key marked before must be gone. A rotator denied
    `appsync:DeleteApiKey` only logs a warning (a later finishSecret retries), so the
    path checks the keys that are left."""
    marked = {k["id"] for k in client.list_api_keys(apiId=api)["apiKeys"]
              if ", retired " in (k.get("description") or "")}
    if not marked:
        raise PathFailed("no API key marked retired after the rotations")
    run.world.moto_api("edgeseal/appsync-days-pass", {"region": API_REGION, "api_id": api, "days": 2})
    stack.sm.rotate(secret)
    left = {k["id"] for k in client.list_api_keys(apiId=api)["apiKeys"]} & marked
    if left:
        raise PathFailed(f"{len(left)} of {len(marked)} retired API keys still in AppSync two days later")
    run.log(f"two days later: {len(marked)} expired API keys deleted by finishSecret")


PATHS = {"api-gateway-api-key": api_gateway_api_key, "appsync-api-key": appsync_api_key, "waf": waf}
