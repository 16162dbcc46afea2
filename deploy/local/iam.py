"""IAM on every call a function (or the CLI under a role) makes, whichever stand-in answers it.

moto server can enforce IAM (INITIAL_NO_AUTH_ACTION_COUNT, /moto-api/reset-auth) but
evaluates every call of these services against resource `*`, so a statement scoped to an
ARN never matches there, even for its own resource (docs/design.md, "Deployment is AWS
behaviour too", checked with moto 5.2; moto's evaluator also treats a statement whose
condition does not hold as a Deny, where IAM treats it as not applying). So every call
is authorized here, before it reaches moto or a stand-in, by ONE maintained evaluator:
scratchstack-aspen (crates.io), run as `deploy/local/iam-eval` (JSON lines). This
module only says, per call, which action, resource ARN and condition keys IAM sees:
the action names and ARN formats of the Service Authorization Reference for Secrets
Manager, SSM, Lambda, CloudFront, API Gateway, AppSync and WAFv2. A call it cannot
name is refused (fail closed) and reported as unmapped.

A refused call gets the service's own AccessDenied shape (JSON `__type`, REST-JSON
`x-amzn-ErrorType`, CloudFront's XML `ErrorResponse`), with IAM's message.
"""
import json
import subprocess
import threading
import urllib.parse

ACCOUNT = "123456789012"


class Evaluator:
    def __init__(self, binary):
        self.p = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.lock = threading.Lock()

    def decide(self, principal, policies, action, resources, context):
        line = json.dumps({"principal": principal, "policies": policies, "action": action,
                           "resources": resources, "context": context})
        with self.lock:
            self.p.stdin.write(line.encode() + b"\n")
            self.p.stdin.flush()
            out = json.loads(self.p.stdout.readline())
        if "error" in out:
            raise ValueError(out["error"])
        return out["decision"]


def _lambda_arn(region, name, qualifier=None):
    name = urllib.parse.unquote(name)
    if name.startswith("arn:"):
        parts = name.split(":")
        base = ":".join(parts[:7])
        qualifier = qualifier or (parts[7] if len(parts) > 7 else None)
    else:
        if ":" in name:
            name, qualifier = name.split(":", 1)[0], qualifier or name.split(":", 1)[1]
        base = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def request_action(service, region, method, path, query, headers, body, secret_arn):
    """(action, [resource ARNs], context) IAM evaluates for this request, or None."""
    target = {k.lower(): v for k, v in headers.items()}.get("x-amz-target", "")
    q = dict(urllib.parse.parse_qsl(query))
    parts = [p for p in path.split("/") if p]
    if service == "secretsmanager" and target.startswith("secretsmanager."):
        op = target.split(".", 1)[1]
        data = json.loads(body or b"{}")
        sid = data.get("SecretId")
        resources = [secret_arn(sid)] if sid else ["*"]
        return f"secretsmanager:{op}", resources, {}
    if service == "ssm" and target.startswith("AmazonSSM."):
        op = target.split(".", 1)[1]
        data = json.loads(body or b"{}")
        name = data.get("Name", "")
        return f"ssm:{op}", [f"arn:aws:ssm:{region}:{ACCOUNT}:parameter/{name.lstrip('/')}"], {}
    if service == "lambda" and len(parts) >= 3 and parts[1] == "functions":
        fn, rest = parts[2], parts[3:]
        qual = q.get("Qualifier")
        if rest == [] and method == "GET":
            return "lambda:GetFunction", [_lambda_arn(region, fn, qual)], {}
        if rest == [] and method == "DELETE":
            return "lambda:DeleteFunction", [_lambda_arn(region, fn, qual)], {}
        if rest == ["configuration"] and method == "GET":
            return "lambda:GetFunctionConfiguration", [_lambda_arn(region, fn, qual)], {}
        if rest == ["code"] and method == "PUT":
            return "lambda:UpdateFunctionCode", [_lambda_arn(region, fn)], {}
        if rest == ["versions"] and method == "POST":
            return "lambda:PublishVersion", [_lambda_arn(region, fn)], {}
        if rest == ["versions"] and method == "GET":
            return "lambda:ListVersionsByFunction", [_lambda_arn(region, fn)], {}
        if rest == ["policy"] and method == "GET":
            return "lambda:GetPolicy", [_lambda_arn(region, fn, qual)], {}
    if service == "cloudfront" and len(parts) >= 2:
        rest = parts[1:]
        dist = lambda i: f"arn:aws:cloudfront::{ACCOUNT}:distribution/{i}"
        if rest[0] == "distribution":
            if len(rest) == 1:
                return ("cloudfront:CreateDistribution" if method == "POST" else "cloudfront:ListDistributions"), ["*"], {}
            if len(rest) == 2 and method == "GET":
                return "cloudfront:GetDistribution", [dist(rest[1])], {}
            if len(rest) == 3 and rest[2] == "config":
                op = "GetDistributionConfig" if method == "GET" else "UpdateDistribution"
                return f"cloudfront:{op}", [dist(rest[1])], {}
        if rest[0] == "tagging" and method == "GET":
            res = dict(urllib.parse.parse_qsl(query)).get("Resource", "*")
            return "cloudfront:ListTagsForResource", [res], {}
        names = {"cache-policy": "GetCachePolicy", "origin-request-policy": "GetOriginRequestPolicy",
                 "continuous-deployment-policy": "GetContinuousDeploymentPolicy"}
        if rest[0] in names and len(rest) == 2:
            return f"cloudfront:{names[rest[0]]}", [f"arn:aws:cloudfront::{ACCOUNT}:{rest[0]}/{rest[1]}"], {}
    if service == "apigateway":
        # API Gateway's management actions are the HTTP method on the path's ARN
        # (Service Authorization Reference, Amazon API Gateway Management).
        p = "/" + "/".join(parts)
        if p.startswith("/v2/"):
            p = p[3:]
        return f"apigateway:{method}", [f"arn:aws:apigateway:{region}::{p}"], {}
    if service == "appsync" and len(parts) >= 3 and parts[0] == "v1" and parts[1] == "apis":
        api = f"arn:aws:appsync:{region}:{ACCOUNT}:apis/{parts[2]}"
        rest = parts[3:]
        if rest == [] and method == "GET":
            return "appsync:GetGraphqlApi", [api], {}
        if rest == ["apikeys"]:
            return ("appsync:CreateApiKey" if method == "POST" else "appsync:ListApiKeys"), [api], {}
        if len(rest) == 2 and rest[0] == "apikeys":
            return ("appsync:DeleteApiKey" if method == "DELETE" else "appsync:UpdateApiKey"), [api], {}
    if service == "wafv2" and target.startswith("AWSWAF_20190729."):
        op = target.split(".", 1)[1]
        data = json.loads(body or b"{}")
        scope = "global" if data.get("Scope") == "CLOUDFRONT" else "regional"
        arn = f"arn:aws:wafv2:{region}:{ACCOUNT}:{scope}/webacl/{data.get('Name')}/{data.get('Id')}"
        return f"wafv2:{op}", [arn], {}
    if service == "events" and target.startswith("AWSEvents."):
        # ListRules names no resource type (Service Authorization Reference, Amazon
        # EventBridge): it is authorized on "*".
        op = target.split(".", 1)[1]
        return f"events:{op}", ["*"], {}
    if service == "monitoring":
        # CloudWatch answers three protocols: the query protocol (Action=...), JSON 1.0
        # (X-Amz-Target) and Smithy RPC v2 CBOR (/service/.../operation/OP).
        op = q.get("Action") or (target.rsplit(".", 1)[-1] if target else None)
        if not op and "operation" in parts:
            op = parts[-1]
        if not op and body and b"Action=" in body:
            op = dict(urllib.parse.parse_qsl(body.decode(errors="replace"))).get("Action")
        if op:
            # DescribeAlarms without AlarmNames lists every alarm: resource "*" (its
            # resource type, alarm, applies to the alarms it names).
            return f"cloudwatch:{op}", ["*"], {}
    if service == "sts" and (q.get("Action") == "GetCallerIdentity" or b"GetCallerIdentity" in (body or b"")):
        return "sts:GetCallerIdentity", None, {}  # needs no permission (STS API reference)
    return None


def access_denied(service, principal, action, resource, msg=None):
    msg = msg or (f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
                  f"because no identity-based policy allows the {action} action")
    if service == "cloudfront":
        body = ('<ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type>'
                f"<Code>AccessDenied</Code><Message>{msg}</Message></Error><RequestId>local</RequestId></ErrorResponse>")
        return 403, {"Content-Type": "text/xml"}, body.encode()
    if service in ("secretsmanager", "ssm", "wafv2", "events", "monitoring"):
        return 400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(
            {"__type": "AccessDeniedException", "Message": msg, "message": msg}).encode()
    return 403, {"Content-Type": "application/json", "x-amzn-ErrorType": "AccessDeniedException"}, json.dumps(
        {"Message": msg, "message": msg}).encode()
