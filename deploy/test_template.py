"""Template test: the day-two traps of deploy/template.yaml, checked without AWS.

    .venv/bin/python deploy/test_template.py [TEMPLATE]      (default deploy/template.yaml)

Run by `bash scripts/test` (through `bash scripts/lint-deploy --template-test`). It reads
the template with cfn-lint's decoder (the same model `cfn-lint` lints), evaluates the
intrinsic functions CloudFormation would for a given set of parameter values and stack
id, and asserts:

1. no edge association can name the bootstrap version after the first rotation: every
   Lambda@Edge association reads the version from an unversioned `{{resolve:ssm:...}}`
   of the parameter the rotator writes, and CloudFormation never rewrites that parameter;
2. the retained resources can be re-created under the same stack name: two stacks of one
   name get different physical names, and what a retained resource needs is retained;
3. SecretRotation depends, explicitly, on everything the first rotation probes;
4. the customer-managed KMS key option adds exactly the needed actions on exactly that key;
5. the rotator's Lambda timeout lets every step run to its own bound (`MAX_STEP_SECS`
   plus `DEADLINE_MARGIN_MS`, defaults read from rotator/src/settings.rs) and is not the
   quarter hour a step once waited for CloudFront: at most 30 s above that;
6. each rotation target (the rotator's `TargetKind` names, read from its settings.rs) is
   selected by its parameters and gets exactly its own API Gateway / WAF / AppSync grants,
   on exactly its usage plan, web ACL (in `WafRegion` when set) or API, and no other's.
7. operations: the EventBridge rule matches Secrets Manager's `RotationFailed` for exactly
   this stack's secret, and alarms watch that rule, the rotator's Lambda `Errors` and the
   authorizer's denials by reason under exactly the namespace, metric, dimensions and
   reason codes the code emits (read from origin-verifier/src/metrics.rs and config.rs,
   shared/src/error.rs); each alarm notifies `AlarmTopicArn` when set, nothing otherwise.

CloudFormation behaviour this relies on (each cited where it is used):
- a DependsOn may not name a resource whose Condition is false (cfn-lint E3005), but a
  Ref inside Fn::If may: the WaitConditionHandle pattern orders conditional resources;
- an ssm dynamic reference without a version resolves to the latest version in each
  stack operation that processes it ("Get a plaintext value from Systems Manager
  Parameter Store", CloudFormation User Guide, dynamic-references-ssm);
- with a transform (AWS::Serverless) dynamic references are resolved when the change
  set executes ("Get values stored in other services using dynamic references",
  general considerations), i.e. when each resource is created or updated.
"""

import copy
import pathlib
import re
import sys

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "us-east-1"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
NO_VALUE = object()


def stack_id(name, instance):
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/{instance}"


class Stack:
    """The template evaluated for one set of parameter values and one stack id."""

    def __init__(self, template, overrides=None, name="edgeseal", instance=None):
        self.template = template
        self.name = name
        self.id = stack_id(name, instance or "a1b2c3d4-0000-4000-8000-000000000001")
        self.params = {
            k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()
        }
        self.params.update(overrides or {})
        self.conditions = {}
        for cond in template.get("Conditions", {}):
            self.condition(cond)
        self.resources = {
            name: r
            for name, r in template["Resources"].items()
            if "Condition" not in r or self.condition(r["Condition"])
        }

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = self.truth(self.template["Conditions"][name])
        return self.conditions[name]

    def truth(self, node):
        (fn, arg), = node.items()
        if fn == "Fn::Equals":
            return self.eval(arg[0]) == self.eval(arg[1])
        if fn == "Fn::Not":
            return not self.truth(arg[0])
        if fn == "Fn::And":
            return all(self.truth(a) for a in arg)
        if fn == "Fn::Or":
            return any(self.truth(a) for a in arg)
        if fn == "Condition":
            return self.condition(arg)
        raise AssertionError(f"unknown condition function {fn}")

    def pseudo(self, name):
        return {
            "AWS::StackName": self.name,
            "AWS::StackId": self.id,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def ref(self, name):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.params:
            return self.params[name]
        value = self.pseudo(name)
        if value is not None:
            return value
        assert name in self.resources, f"Ref to {name}, which this stack does not create"
        return f"<ref:{name}>"

    def sub(self, text, variables):
        def one(m):
            var = m.group(1)
            if var.startswith("!"):
                return "${" + var[1:] + "}"
            if var in variables:
                return str(variables[var])
            if "." in var:
                res, attr = var.split(".", 1)
                assert res in self.resources, f"Sub names {res}, which this stack does not create"
                return f"<getatt:{res}.{attr}>"
            return str(self.ref(var))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def eval(self, node):
        """Evaluate intrinsic functions; resources stay as <ref:X> / <getatt:X.A> markers."""
        if isinstance(node, list):
            return [v for v in (self.eval(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::GetAtt":
                res, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                assert res in self.resources, f"GetAtt of {res}, which this stack does not create"
                return f"<getatt:{res}.{attr}>"
            if fn == "Fn::If":
                return self.eval(arg[1] if self.condition(arg[0]) else arg[2])
            if fn == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                text, variables = arg
                return self.sub(text, {k: self.eval(v) for k, v in variables.items()})
            if fn == "Fn::Join":
                return arg[0].join(str(v) for v in self.eval(arg[1]))
            if fn == "Fn::Split":
                return self.eval(arg[1]).split(arg[0])
            if fn == "Fn::Select":
                return self.eval(arg[1])[int(self.eval(arg[0]))]
        out = {}
        for k, v in node.items():
            v = self.eval(v)
            if v is not NO_VALUE:
                out[k] = v
        return out

    def props(self, name):
        return self.eval(self.resources[name].get("Properties", {}))


def markers(value):
    """Resources an evaluated value refers to."""
    return set(re.findall(r"<(?:ref|getatt):([A-Za-z0-9]+)", repr(value)))


def raw_refs(node):
    """Logical names a raw (unevaluated) node refers to, through any branch."""
    found = set()
    if isinstance(node, list):
        for n in node:
            found |= raw_refs(n)
    elif isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add((v if isinstance(v, list) else v.split("."))[0])
            elif k == "Fn::Sub":
                text = v if isinstance(v, str) else v[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if not isinstance(v, str):
                    found |= raw_refs(v[1])
            else:
                found |= raw_refs(v)
    return found


def statements(stack, function):
    """The IAM statements of a function's inline policies (or of a managed policy, such
    as OperatorPolicy), evaluated."""
    props = stack.props(function)
    if "PolicyDocument" in props:
        return list(props["PolicyDocument"].get("Statement", []))
    out = []
    for policy in props.get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            out.extend(policy["Statement"])
    return out


def as_list(v):
    return v if isinstance(v, list) else [v]


failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
    return ok


# ---- 1. a stack update never puts back an edge version older than the rotator's -----

def test_associations_follow_the_rotator(template):
    for overrides in ({}, {"ExistingHttpApiId": "a1b2c3d4e5"}):
        stack = Stack(template, overrides)
        rotator_env = stack.props("RotatorFunction")["Environment"]["Variables"]
        recorded = rotator_env.get("EDGE_VERSION_PARAMETER")
        if not check(recorded is not None, "the rotator has no EDGE_VERSION_PARAMETER: nothing records the version it sets"):
            return
        (parameter,) = markers(recorded) or {None}
        if not check(
            parameter and stack.resources[parameter]["Type"] == "AWS::SSM::Parameter",
            f"EDGE_VERSION_PARAMETER is {recorded!r}, not an AWS::SSM::Parameter of this stack",
        ):
            return
        param_name = stack.props(parameter)["Name"]
        put = [
            s for s in statements(stack, "RotatorFunction")
            if s["Effect"] == "Allow" and "ssm:PutParameter" in as_list(s["Action"])
        ]
        check(
            # Ref of an AWS::SSM::Parameter is its name.
            any(r.endswith((f":parameter{param_name}", f":parameter<ref:{parameter}>"))
                for s in put for r in as_list(s["Resource"])),
            f"the rotator may not ssm:PutParameter {param_name}",
        )
        # CloudFormation writes the parameter only when its properties change: they must
        # refer to nothing a stack update can change (no template parameter, no resource
        # that can be replaced), or an update would put the bootstrap version back.
        for name in raw_refs(stack.resources[parameter].get("Properties", {})):
            check(
                name not in stack.params,
                f"{parameter} depends on template parameter {name}: changing it rewrites the recorded version",
            )
        bootstrap = [n for n, r in stack.resources.items() if r["Type"] == "AWS::Lambda::Version"]
        for name in bootstrap:
            props = stack.resources[name].get("Properties", {})
            check("CodeSha256" not in props, f"{name} sets CodeSha256: a code change replaces it")
            for ref in raw_refs(props):
                check(ref not in stack.params, f"{name} depends on template parameter {ref}: it can be replaced")

        distributions = [n for n, r in stack.resources.items() if r["Type"] == "AWS::CloudFront::Distribution"]
        for dist in distributions:
            config = stack.props(dist)["DistributionConfig"]
            behaviors = [config["DefaultCacheBehavior"]] + config.get("CacheBehaviors", [])
            for b in behaviors:
                for a in b.get("LambdaFunctionAssociations", []):
                    arn = a["LambdaFunctionARN"]
                    named = markers(arn) & set(bootstrap)
                    check(
                        not named,
                        f"{dist} association {a['EventType']} names {sorted(named)} directly: every stack update puts the bootstrap version back",
                    )
                    m = re.fullmatch(r"\{\{resolve:ssm:(<ref:[A-Za-z0-9]+>|[^:}]+)(:\d+)?\}\}", str(arn))
                    if check(m is not None, f"{dist} association {a['EventType']} is {arn!r}, not an ssm dynamic reference"):
                        check(m.group(2) is None, f"{dist} pins parameter version {m.group(2)}: updates would not read the latest")
                        check(
                            m.group(1) == f"<ref:{parameter}>" or m.group(1) == param_name,
                            f"{dist} reads {m.group(1)}, not the parameter the rotator writes ({parameter})",
                        )
                        deps = raw_refs(template["Resources"][dist].get("Properties", {})) | set(
                            as_list(template["Resources"][dist].get("DependsOn", []))
                        )
                        check(parameter in deps, f"{dist} is not ordered after {parameter}")


# ---- 2. re-creating a stack of the same name ---------------------------------------

NAME_PROPERTIES = ("FunctionName", "RoleName", "Name", "LogGroupName", "TopicName", "BucketName", "PolicyName")


def test_retained_resources_can_be_recreated(template):
    first = Stack(template, instance="a1b2c3d4-0000-4000-8000-000000000001")
    second = Stack(template, instance="e5f6a7b8-0000-4000-8000-000000000002")
    retained = [n for n, r in first.resources.items() if r.get("DeletionPolicy") == "Retain"]
    check(retained, "nothing is retained (the edge function must be: CloudFront holds its replicas)")
    for name in retained:
        resource = first.resources[name]
        # The name a second stack of the same name would give it must differ.
        a, b = first.props(name), second.props(name)
        for prop in NAME_PROPERTIES:
            if resource["Type"] == "AWS::Lambda::Version" and prop == "FunctionName":
                continue  # a version names its function; it has no name of its own
            if prop in a:
                check(
                    a[prop] != b[prop],
                    f"retained {name} is named {a[prop]!r} in every stack called {first.name!r}: re-creating the stack fails on the name",
                )
        # A retained serverless function with no Role gets a SAM-made role that is
        # deleted with the stack.
        if resource["Type"] == "AWS::Serverless::Function":
            check("Role" in a, f"retained {name} has no explicit Role: SAM's generated role is deleted with the stack")
        # What it needs to keep working is retained with it.
        for dep in markers(a) - {name}:
            kind = first.resources[dep]["Type"]
            if kind in ("AWS::IAM::Role", "AWS::Serverless::Function", "AWS::Lambda::Function"):
                check(
                    first.resources[dep].get("DeletionPolicy") == "Retain",
                    f"retained {name} uses {dep} ({kind}), which is deleted with the stack",
                )


# ---- 3. the first rotation runs after what it probes ---------------------------------

def probed_by_first_rotation(stack):
    """Every resource the first rotation touches, derived from the rotator's settings:
    the origin it probes (the API, its routes, stages, integrations, authorizers and the
    invoke permissions on them), the distribution it points, the parameter it writes,
    and Secrets Manager's permission to invoke it."""
    env = stack.props("RotatorFunction")["Environment"]["Variables"]
    wanted = set()
    for var in ("ORIGIN_URL", "CLOUDFRONT_DISTRIBUTION_ID", "EDGE_VERSION_PARAMETER"):
        wanted |= markers(env.get(var, ""))
    apis = {n for n in wanted if stack.resources[n]["Type"].startswith("AWS::ApiGatewayV2::Api")}
    parts = {n for n, r in stack.resources.items() if markers(stack.props(n).get("ApiId", "")) & apis}
    # An existing API: the authorizer this stack adds to it is still probed.
    parts |= {n for n, r in stack.resources.items() if r["Type"] == "AWS::ApiGatewayV2::Authorizer"}
    permissions = {
        n for n, r in stack.resources.items()
        if r["Type"] == "AWS::Lambda::Permission"
        and (markers(stack.props(n).get("SourceArn", "")) & (apis | parts)
             or stack.props(n).get("Principal") == "secretsmanager.amazonaws.com")
    }
    return (wanted | parts | permissions) - {"RotatorFunction", "EdgeFunction"}


def explicit_dependencies(template, stack, name):
    """DependsOn, plus what a DependsOn'd WaitConditionHandle references (the way to
    depend on conditional resources)."""
    deps = set(as_list(template["Resources"][name].get("DependsOn", [])))
    for d in list(deps):
        r = template["Resources"].get(d, {})
        if r.get("Type") == "AWS::CloudFormation::WaitConditionHandle":
            deps |= markers(stack.eval(r.get("Metadata", {})))
    return deps


def test_rotation_waits_for_what_it_probes(template):
    for overrides in ({}, {"ExistingHttpApiId": "a1b2c3d4e5"}, {"ExistingDistributionId": "E1234567890ABC", "OriginUrl": "https://api.example.com"}):
        stack = Stack(template, overrides)
        probed = probed_by_first_rotation(stack)
        check(len(probed) >= 3, f"with {overrides or 'defaults'} the probe set is implausibly small: {sorted(probed)}")
        if not overrides:
            for must in ("ExampleRoute", "ExampleStage", "ExampleIntegration", "ExampleBackendInvokePermission",
                         "AuthorizerInvokePermission", "HttpApiAuthorizer", "ExampleDistribution",
                         "RotatorSecretsManagerPermission"):
                check(must in probed, f"the probe derivation misses {must}")
        missing = probed - explicit_dependencies(template, stack, "SecretRotation")
        check(not missing, f"with {overrides or 'defaults'} SecretRotation does not explicitly depend on {sorted(missing)}")


# ---- 4. a customer-managed KMS key ---------------------------------------------------

NEEDED_KMS = {
    # Secrets Manager envelope encryption: GetSecretValue → kms:Decrypt, PutSecretValue →
    # kms:GenerateDataKey ("Secret encryption and decryption in AWS Secrets Manager";
    # rotation roles: "Lambda rotation function execution role permissions").
    "AuthorizerFunction": {"kms:Decrypt"},
    # The CLI reads the secret (status, doctor, sign, verify).
    "OperatorPolicy": {"kms:Decrypt"},
    "RotatorFunction": {"kms:Decrypt", "kms:GenerateDataKey"},
}


def kms_grants(stack, function):
    grants = []
    for s in statements(stack, function):
        actions = {a for a in as_list(s["Action"]) if a.lower().startswith("kms:")}
        if actions:
            grants.append((s, actions))
    return grants


def test_kms_key_option(template):
    for overrides in ({}, {"ExistingSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:legacy-AbCdEf"}):
        off = Stack(template, overrides)
        functions = [n for n, r in off.resources.items() if r["Type"] == "AWS::Serverless::Function"]
        functions.append("OperatorPolicy")
        for f in functions:
            check(not kms_grants(off, f), f"{f} has KMS permissions without a customer-managed key")
        on = Stack(template, dict(overrides, SecretKmsKeyArn=KMS_KEY))
        secret_arn = on.eval({"Fn::If": ["CreateSecret", {"Ref": "Secret"}, {"Ref": "ExistingSecretArn"}]})
        if "Secret" in on.resources:
            check(on.props("Secret").get("KmsKeyId") == KMS_KEY, "the new secret is not encrypted with SecretKmsKeyArn")
        for f in functions:
            grants = kms_grants(on, f)
            actions = set().union(*(a for _, a in grants)) if grants else set()
            check(actions == NEEDED_KMS.get(f, set()),
                  f"{f} gets {sorted(actions)} with a customer key, needs exactly {sorted(NEEDED_KMS.get(f, set()))}")
            for s, _ in grants:
                check(as_list(s["Resource"]) == [KMS_KEY], f"{f}'s KMS grant is on {s['Resource']!r}, not exactly the key")
                cond = s.get("Condition", {}).get("StringEquals", {})
                check(cond.get("kms:ViaService") == f"secretsmanager.{REGION}.amazonaws.com",
                      f"{f}'s KMS grant is usable outside Secrets Manager")
                check(cond.get("kms:EncryptionContext:SecretARN") == secret_arn,
                      f"{f}'s KMS grant is not limited to this secret ({cond.get('kms:EncryptionContext:SecretARN')!r})")


# ---- 5. the rotator's timeout fits its step bound --------------------------------------

# Seconds a rotator timeout may exceed one step's bound and margin: the AWS call in flight
# when the bound passes, and the edge-version record after every step (template comment).
ROTATOR_SLACK_SECS = 30


def rotator_default(variable):
    """The default of one of the rotator's numeric settings, as its settings.rs reads it:
    `number(&get, "VARIABLE", DEFAULT, MIN, MAX)`."""
    code = (ROOT / "rotator" / "src" / "settings.rs").read_text()
    found = re.search(r'"' + variable + r'",\s*([0-9_]+)\s*,', code)
    assert found, f"rotator/src/settings.rs no longer reads {variable} with number(..): update this test"
    return int(found.group(1).replace("_", ""))


def test_rotator_timeout_fits_its_steps(template):
    stack = Stack(template)
    props = stack.props("RotatorFunction")
    env = props["Environment"]["Variables"]
    max_step = int(env.get("MAX_STEP_SECS", rotator_default("MAX_STEP_SECS")))
    margin = int(env.get("DEADLINE_MARGIN_MS", rotator_default("DEADLINE_MARGIN_MS"))) / 1000
    timeout = int(props.get("Timeout", 3))
    least = max_step + margin
    check(timeout >= least,
          f"rotator Timeout {timeout} s cuts steps short of MAX_STEP_SECS {max_step} s + margin {margin:g} s")
    check(timeout <= least + ROTATOR_SLACK_SECS,
          f"rotator Timeout {timeout} s is more than {ROTATOR_SLACK_SECS} s above what a step uses ({least:g} s)")


# ---- 6. each rotation target gets its own grants, and only its own ---------------------

SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:legacy-AbCdEf"
PLAN = "a1b2c3"
ACL_NAME, ACL_ID = "origin-acl", "0123abcd-4567-89ef-0123-456789abcdef"
APPSYNC_API = "abcdefghijklmnopqrstuvwxyz"

# Per target: the parameter values that select it, and the grants it needs beyond the
# common ones (secret, edge function, distribution, parameter): (action, resource) pairs.
TARGETS = {
    "signed": ({}, set()),
    "static-header": ({"AuthMode": "static-header"}, set()),
    "api-gateway-api-key": (
        {"ApiKeyUsagePlanId": PLAN, "AuthMode": "static-header"},
        {(a, f"arn:aws:apigateway:{REGION}::{path}")
         for a in ("apigateway:GET", "apigateway:POST", "apigateway:PATCH", "apigateway:DELETE")
         for path in (f"/usageplans/{PLAN}", f"/usageplans/{PLAN}/keys", f"/usageplans/{PLAN}/keys/*",
                      "/apikeys", "/apikeys/*", "/tags/*")},
    ),
    "waf": (
        {"WafWebAclName": ACL_NAME, "WafWebAclId": ACL_ID, "AuthMode": "static-header"},
        {(a, f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/{ACL_NAME}/{ACL_ID}")
         for a in ("wafv2:GetWebACL", "wafv2:UpdateWebACL")},
    ),
    "appsync-api-key": (
        {"AppSyncApiId": APPSYNC_API, "ExistingSecretArn": SECRET},
        {(a, "*") for a in ("appsync:ListApiKeys", "appsync:CreateApiKey",
                            "appsync:UpdateApiKey", "appsync:DeleteApiKey")}
        | {("appsync:GetGraphqlApi", f"arn:aws:appsync:{REGION}:{ACCOUNT}:apis/{APPSYNC_API}")},
    ),
}
TARGET_SERVICES = ("apigateway:", "wafv2:", "appsync:")


def target_grants(stack):
    """The rotator's (action, resource) grants on the services only targets use."""
    grants = set()
    for s in statements(stack, "RotatorFunction"):
        for action in as_list(s["Action"]):
            if action.startswith(TARGET_SERVICES):
                grants |= {(action, r) for r in as_list(s["Resource"])}
    return grants


def test_each_target_gets_its_own_grants(template):
    code = (ROOT / "rotator" / "src" / "settings.rs").read_text()
    known = set(re.findall(r'TargetKind::\w+ => "([a-z-]+)",', code))
    check(known == set(TARGETS), f"the rotator's targets {sorted(known)} are not the ones tested {sorted(TARGETS)}")
    for target, (overrides, needed) in TARGETS.items():
        stack = Stack(template, overrides)
        env = stack.props("RotatorFunction")["Environment"]["Variables"]
        check(env.get("ROTATION_TARGET") == target,
              f"{overrides} selects ROTATION_TARGET={env.get('ROTATION_TARGET')!r}, not {target}")
        got = target_grants(stack)
        check(got == needed, f"{target}: grants beyond it {sorted(got - needed)}, missing {sorted(needed - got)}")
    # The WAF rule's grant follows WafRegion when the web ACL lives elsewhere.
    overrides = dict(TARGETS["waf"][0], WafRegion="eu-west-1")
    stack = Stack(template, overrides)
    resources = {r for _, r in target_grants(stack)}
    check(resources == {f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/webacl/{ACL_NAME}/{ACL_ID}"},
          f"WafRegion=eu-west-1: the WAF grant names {sorted(resources)}")
    env = stack.props("RotatorFunction")["Environment"]["Variables"]
    check(env.get("WAF_REGION") == "eu-west-1", "WafRegion does not reach WAF_REGION")
    check(env.get("USAGE_PLAN_ID") is None and env.get("APPSYNC_API_ID") is None,
          "the waf target's rotator gets another target's variables")
    # AppSync is pointed at by a distribution only when it sits behind an existing one
    # (the example distribution fronts the HTTP API); the one distribution grant covers it.
    appsync = TARGETS["appsync-api-key"][0]
    env = Stack(template, appsync).props("RotatorFunction")["Environment"]["Variables"]
    check(env.get("CLOUDFRONT_DISTRIBUTION_ID") is None,
          "AppSync called directly: the rotator is given a distribution to point")
    behind = Stack(template, dict(appsync, ExistingDistributionId="E2QWRUHEXAMPLE"))
    env = behind.props("RotatorFunction")["Environment"]["Variables"]
    check(env.get("CLOUDFRONT_DISTRIBUTION_ID") == "E2QWRUHEXAMPLE",
          f"AppSync behind a distribution: CLOUDFRONT_DISTRIBUTION_ID={env.get('CLOUDFRONT_DISTRIBUTION_ID')!r}")
    granted = {r for s in statements(behind, "RotatorFunction")
               if "cloudfront:UpdateDistribution" in as_list(s["Action"])
               for r in as_list(s["Resource"])}
    check(granted == {f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2QWRUHEXAMPLE"},
          f"AppSync behind a distribution: UpdateDistribution granted on {sorted(granted)}")


# ---- 7. operations: the RotationFailed rule and the alarms -----------------------------

# The denial reasons alarmed on: those legitimate traffic gets when edgeseal itself is
# broken (the template's comment says why each).
ALARMED_REASONS = {"no_keys", "unknown_key", "previous_key_retired"}
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:edgeseal-alarms"


def emitted_metrics():
    """What the authorizer emits, read from its code: (default namespace, metric name,
    dimension sets, the deny verdict's value, every rejection code)."""
    metrics = (ROOT / "origin-verifier" / "src" / "metrics.rs").read_text()
    config = (ROOT / "origin-verifier" / "src" / "config.rs").read_text()
    errors = (ROOT / "shared" / "src" / "error.rs").read_text()
    namespace = re.search(r'DEFAULT_METRICS_NAMESPACE: &\'static str = "([^"]+)"', config)
    name = re.search(r'"Metrics":\[\{"Name":"([A-Za-z]+)"', metrics)
    dims = re.search(r'"Dimensions":(\[\[[^]]*\](?:,\[[^]]*\])*\])', metrics)
    deny = re.search(r'Verdict::Deny => "([a-z]+)"', metrics)
    codes = set(re.findall(r'Rejection::\w+ => "([a-z_]+)"', errors))
    assert namespace and name and dims and deny and codes, \
        "origin-verifier/src/metrics.rs or config.rs changed shape: update this test"
    import json
    dimension_sets = [frozenset(d) for d in json.loads(dims.group(1))]
    return namespace.group(1), name.group(1), dimension_sets, deny.group(1), codes


def alarms(stack):
    return {n: stack.props(n) for n, r in stack.resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def alarm_on(stack, namespace, metric, dimensions):
    """The alarms on exactly this metric and these dimensions."""
    return [
        n for n, a in alarms(stack).items()
        if a.get("Namespace") == namespace and a.get("MetricName") == metric
        and {d["Name"]: d["Value"] for d in a.get("Dimensions", [])} == dimensions
    ]


def named_secrets(pattern):
    """Every value an event pattern matches a secret id or ARN field against."""
    found = []
    if isinstance(pattern, list):
        for p in pattern:
            found += named_secrets(p)
    elif isinstance(pattern, dict):
        for k, v in pattern.items():
            if k.lower() in ("secretid", "arn") and isinstance(v, list):
                found += [str(x) for x in v]
            else:
                found += named_secrets(v)
    return found


def test_operations_alarm_on_what_the_code_emits(template):
    namespace, metric, dimension_sets, deny, codes = emitted_metrics()
    check(ALARMED_REASONS <= codes, f"alarmed reasons {sorted(ALARMED_REASONS - codes)} are not rejection codes")
    for overrides in ({}, {"ExistingSecretArn": SECRET}, {"AlarmTopicArn": TOPIC},
                      {"ExistingSecretArn": SECRET, "AlarmTopicArn": TOPIC}):
        stack = Stack(template, overrides)
        secret_arn = stack.eval({"Fn::If": ["CreateSecret", {"Ref": "Secret"}, {"Ref": "ExistingSecretArn"}]})
        where = f"with {overrides or 'defaults'}"
        # The rule: Secrets Manager's RotationFailed, for this secret only, enabled.
        rules = [n for n, r in stack.resources.items() if r["Type"] == "AWS::Events::Rule"]
        matching = []
        for name in rules:
            props = stack.props(name)
            pattern = props.get("EventPattern", {})
            detail = pattern.get("detail", {})
            if "RotationFailed" not in detail.get("eventName", []):
                continue
            matching.append(name)
            check(pattern.get("source") == ["aws.secretsmanager"], f"{where}: {name} source is {pattern.get('source')}")
            check(pattern.get("detail-type") == ["AWS Service Event via CloudTrail"],
                  f"{where}: {name} detail-type is {pattern.get('detail-type')} (RotationFailed is a service event)")
            check(props.get("State") == "ENABLED", f"{where}: {name} is {props.get('State')}")
            # Every way the pattern names a secret names this one, and it names one.
            arns = named_secrets(detail)
            check(arns and set(arns) == {secret_arn},
                  f"{where}: {name} matches secrets {sorted(set(arns))}, not exactly {secret_arn}")
        if not check(len(matching) == 1, f"{where}: {len(matching)} rules match RotationFailed, want 1"):
            continue
        (rule,) = matching
        watched = {
            "RotationFailed rule": alarm_on(stack, "AWS/Events", "MatchedEvents", {"RuleName": f"<ref:{rule}>"}),
            "rotator errors": alarm_on(stack, "AWS/Lambda", "Errors", {"FunctionName": "<ref:RotatorFunction>"}),
        }
        check(frozenset({"Verdict", "Reason"}) in dimension_sets,
              f"the authorizer no longer emits Requests by Verdict and Reason ({dimension_sets})")
        for reason in sorted(ALARMED_REASONS):
            watched[f"denials {reason}"] = alarm_on(stack, namespace, metric, {"Verdict": deny, "Reason": reason})
        for what, found in watched.items():
            check(len(found) == 1, f"{where}: {len(found)} alarms on {what}, want 1")
        # The namespace is the authorizer's: it does not set another one.
        env = stack.props("AuthorizerFunction")["Environment"]["Variables"]
        check(env.get("METRICS_NAMESPACE", namespace) == namespace,
              f"{where}: the authorizer emits under {env.get('METRICS_NAMESPACE')}, the alarms watch {namespace}")
        want = [TOPIC] if "AlarmTopicArn" in overrides else None
        for name, a in alarms(stack).items():
            check(a.get("AlarmActions") == want, f"{where}: {name} notifies {a.get('AlarmActions')}, want {want}")
            check(a.get("ActionsEnabled", True) is not False, f"{where}: {name} has its actions disabled")
        check(not [n for n, r in stack.resources.items() if r["Type"].startswith("AWS::SNS::")],
              f"{where}: the stack creates SNS resources; the topic is AlarmTopicArn's")


def main():
    path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "deploy" / "template.yaml"
    template, matches = decode(str(path))
    if matches:
        sys.exit(f"cannot read {path}: {matches}")
    tests = [
        test_associations_follow_the_rotator,
        test_retained_resources_can_be_recreated,
        test_rotation_waits_for_what_it_probes,
        test_kms_key_option,
        test_rotator_timeout_fits_its_steps,
        test_each_target_gets_its_own_grants,
        test_operations_alarm_on_what_the_code_emits,
    ]
    failed = 0
    for test in tests:
        before = len(failures)
        try:
            test(copy.deepcopy(template))
        except AssertionError as e:
            failures.append(f"{test.__name__}: {e}")
        new = failures[before:]
        print(f"{'FAIL' if new else 'ok  '} {test.__name__}")
        for f in new:
            print(f"       {f}")
        failed += bool(new)
    print(f"template test ({path.name}): {len(tests) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
