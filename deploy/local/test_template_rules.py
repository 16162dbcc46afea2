"""What the template refuses and grants, through the real SAM transform.

    .venv/bin/python -m deploy.local.test_template_rules [TEMPLATE]

Run by `bash scripts/lint-deploy --template-test` (so by `bash scripts/test`). Each case
evaluates the template as CloudFormation would for one parameter set (deploy/local/
template.py: aws-sam-translator, then Rules and intrinsic functions) and checks:
- combinations that cannot work are refused with a message that says why: `waf` with the
  example HTTP API (WAF cannot be associated with an HTTP API: WAFV2 API reference,
  "Welcome"); `api-gateway-api-key` without its distribution, origin and secret; a secret
  outside the stack's region; a staging distribution without its primary;
- the rotator's grants are the ones its target calls: the policy reads of a distribution
  (GetCachePolicy, GetOriginRequestPolicy, GetContinuousDeploymentPolicy) for every target
  that points one; edge publishing only for the signed target; nothing of CloudFront for
  AppSync called directly; usage plans and AppSync APIs in ApiRegion;
- BASE_PATH_MAP and a staging distribution can be set through parameters.
"""
import pathlib
import sys

from . import template as t

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:legacy-AbCdEf"
RESULTS = []


class Resolved:
    def __init__(self, path, params):
        raw = t.load(path)
        values = t.parameter_values(raw, params)
        packaged = t.package(raw, lambda uri: ("bucket", uri.rsplit("/", 1)[-1]))
        self.tpl = t.sam_transform(packaged, values, "us-east-1", "edgeseal")
        self.r = t.Resolver(self.tpl, values, "us-east-1", "edgeseal", ssm=lambda n: "arn:aws:lambda:us-east-1:123456789012:function:e:1")
        self.r.check_rules()
        for lid in self.tpl["Resources"]:
            self.r.physical[lid] = f"{lid}-physical"
            self.r.attributes[lid] = {"Arn": f"arn:aws:lambda:us-east-1:123456789012:function:{lid}",
                                      "DomainName": "d1.cloudfront.net"}
        self.r.physical["ExampleDistribution"] = "EEXAMPLE00001"

    def env(self, lid):
        return self.r.eval(self.tpl["Resources"][lid]["Properties"]["Environment"]["Variables"])

    def grants(self, role="RotatorFunctionRole"):
        """action -> [resources] of the role's inline policies."""
        out = {}
        for pol in self.r.eval(self.tpl["Resources"][role]["Properties"]["Policies"]):
            for st in pol["PolicyDocument"]["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                for a in actions:
                    out.setdefault(a, []).extend(res)
        return out


def case(name):
    def wrap(fn):
        RESULTS.append((name, fn))
        return fn
    return wrap


def refused(path, params, words):
    try:
        Resolved(path, params)
    except t.Refused as e:
        assert all(w in str(e) for w in words), f"refused, but the message does not say {words}: {e}"
        return
    raise AssertionError(f"accepted {params}")


@case("waf with the example HTTP API is refused")
def _(path):
    refused(path, {"AuthMode": "static-header", "WafWebAclName": "acl", "WafWebAclId": "a1", "WafRuleName": "r"},
            ["HTTP API", "OriginUrl"])


@case("api-gateway-api-key without its distribution, origin and secret is refused")
def _(path):
    refused(path, {"ApiKeyUsagePlanId": "plan1"}, ["ExistingDistributionId", "OriginUrl"])
    refused(path, {"ApiKeyUsagePlanId": "plan1", "ExistingDistributionId": "E123456",
                   "OriginUrl": "https://x.execute-api.eu-west-1.amazonaws.com/prod"}, ["ExistingSecretArn"])


@case("a secret in another region than the stack is refused")
def _(path):
    refused(path, {"ExistingSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:s-AbCdEf"},
            ["ExistingSecretArn"])


@case("every target that points a distribution may read its policies")
def _(path):
    for params in ({}, {"ExistingDistributionId": "E123456", "ExistingHttpApiId": "a1b2c3d4e5",
                        "OriginUrl": "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"},
                   {"AuthMode": "static-header"}):
        g = Resolved(path, params).grants()
        for action, kind in (("cloudfront:GetCachePolicy", "cache-policy/"),
                             ("cloudfront:GetOriginRequestPolicy", "origin-request-policy/"),
                             ("cloudfront:GetContinuousDeploymentPolicy", "continuous-deployment-policy/")):
            assert any(kind in r for r in g.get(action, [])), f"{params}: {action} not granted on {kind}*"


@case("only the signed target may publish the edge function")
def _(path):
    assert "lambda:PublishVersion" in Resolved(path, {}).grants()
    for params in ({"AuthMode": "static-header"},
                   {"AppSyncApiId": "abcdefghijklmnopqrstuvwxyz", "ExistingSecretArn": SECRET}):
        g = Resolved(path, params).grants()
        for a in ("lambda:UpdateFunctionCode", "lambda:PublishVersion", "ssm:PutParameter"):
            assert a not in g, f"{params}: {a} granted to a target that never calls it"


@case("AppSync called directly gets nothing of CloudFront")
def _(path):
    g = Resolved(path, {"AppSyncApiId": "abcdefghijklmnopqrstuvwxyz", "ExistingSecretArn": SECRET}).grants()
    assert not [a for a in g if a.startswith("cloudfront:")], sorted(g)


@case("the AppSync target's rotator gets no HEADER_NAME (it refuses any but x-api-key)")
def _(path):
    env = Resolved(path, {"AppSyncApiId": "abcdefghijklmnopqrstuvwxyz", "ExistingSecretArn": SECRET}).env("RotatorFunction")
    assert env.get("ROTATION_TARGET") == "appsync-api-key", env
    assert env.get("HEADER_NAME") in (None, "x-api-key"), env.get("HEADER_NAME")


@case("usage plans and AppSync APIs are reached in the API's region")
def _(path):
    s = Resolved(path, {"AppSyncApiId": "abcdefghijklmnopqrstuvwxyz", "ExistingSecretArn": SECRET,
                        "ApiRegion": "eu-west-1"})
    assert s.env("RotatorFunction").get("API_REGION") == "eu-west-1", s.env("RotatorFunction")
    assert all(":eu-west-1:" in r for r in s.grants()["appsync:GetGraphqlApi"])
    s = Resolved(path, {"ApiKeyUsagePlanId": "plan1", "ExistingDistributionId": "E123456",
                        "OriginUrl": "https://x.execute-api.eu-west-1.amazonaws.com/prod",
                        "ExistingSecretArn": SECRET, "ApiRegion": "eu-west-1"})
    assert s.env("RotatorFunction").get("API_REGION") == "eu-west-1"
    assert all(":eu-west-1:" in r for r in s.grants()["apigateway:GET"]), s.grants()["apigateway:GET"]


@case("BASE_PATH_MAP and a staging distribution are set through parameters")
def _(path):
    s = Resolved(path, {"BasePathMap": "/prod=", "ExistingDistributionId": "E123456", "StagingDistributionId": "E654321",
                        "ExistingHttpApiId": "a1b2c3d4e5",
                        "OriginUrl": "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"})
    assert s.env("AuthorizerFunction").get("BASE_PATH_MAP") == "/prod=", s.env("AuthorizerFunction")
    assert s.env("RotatorFunction")["CLOUDFRONT_DISTRIBUTION_ID"] == "E123456,E654321"
    assert any(r.endswith("distribution/E654321") for r in s.grants()["cloudfront:UpdateDistribution"])
    refused(path, {"StagingDistributionId": "E654321"}, ["ExistingDistributionId"])


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "deploy" / "template.yaml")
    passed = failed = 0
    for name, fn in RESULTS:
        try:
            fn(path)
            print(f"ok   {name}")
            passed += 1
        except Exception as e:  # noqa: BLE001 - every case reports
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            failed += 1
    print(f"template rules ({pathlib.Path(path).name}): {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
