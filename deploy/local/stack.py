"""One deployment of deploy/template.yaml on the local stack, and what runs it.

`World` is the machine: moto server, the gateway (IAM + stand-ins), the CloudFront
stand-in, the edge runner, the IAM evaluator. `Stack` is one `sam deploy` of the template
with a path's parameters: transformed, checked, created (deployer.py), with its
functions started on demand from what Lambda reports for them (lambdas.py).
"""
import io
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
import uuid
import zipfile

import boto3
from botocore.config import Config

from . import template as tpl_mod
from .cloudfront import CloudFront
from .dataplane import DataPlane
from .deployer import Deployer
from .gateway import SECRETS_MANAGER_CANNOT_INVOKE, Gateway
from .iam import Evaluator
from .lambdas import EdgeRunner, Function, InvokeError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICE_HOSTS = ["secretsmanager", "lambda", "ssm", "sts", "apigateway", "appsync", "wafv2", "kms",
                 "logs", "cloudformation", "iam", "s3", "events", "monitoring"]
REGIONS = ["us-east-1", "eu-west-1"]


class World:
    def __init__(self, run_dir, bins, moto_port):
        self.run_dir = run_dir
        self.bins = bins
        self.moto_port = moto_port
        self.cloudfront = CloudFront(deploy_delay=3.0)
        self.cloudfront.on_create = self.add_host
        self.edges = EdgeRunner(os.path.join(ROOT, "demo", "js", "edge-worker.mjs"), os.path.join(run_dir, "edge"))
        self.evaluator = Evaluator(bins["iam-eval"])
        self.functions = {}
        self.code_dirs = {}  # CodeSha256 -> directory laid out as /var/task
        self.function_properties = {}  # function name -> the template's resolved properties
        self.gateway = Gateway(moto_port, self.cloudfront, None, self.evaluator, self.admin)
        self.dataplane = DataPlane(self.cloudfront, self.edges, self.edge_zip, self.admin, self.function)
        self.dataplane.invoke_allowed = self.gateway.invoke_allowed
        self.gateway.dataplane = self.dataplane
        from .origins import TargetOrigins
        self.dataplane.target_origins = TargetOrigins(self.admin)
        self.hosts = [f"{s}.{r}.amazonaws.com" for s in SERVICE_HOSTS for r in REGIONS]
        self.hosts += ["cloudfront.amazonaws.com", "iam.amazonaws.com", "sts.amazonaws.com"]
        self.lock = threading.Lock()

    def admin(self, service, region="us-east-1"):
        return boto3.client(service, region_name=region, endpoint_url=f"http://127.0.0.1:{self.moto_port}",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"max_attempts": 1}))

    def moto_api(self, path, body):
        """POST to moto server's own API (`/moto-api/...`): the stand-ins' controls, such
        as days passing (deploy/local/moto_server.py)."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.moto_port}/moto-api/{path}",
                                         data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"null")

    def add_host(self, host):
        with open("/etc/hosts", "a") as f:
            f.write(f"127.0.0.1 {host}\n")

    # ------------------------------------------------------------ code
    def edge_zip(self, version_arn):
        sha = self.admin("lambda").get_function_configuration(FunctionName=version_arn)["CodeSha256"]
        return self.gateway.zips[sha]

    def upload(self, local_uri, bucket):
        """`sam package` for one CodeUri: the edge zip as built; for the provided.al2023
        functions a zip naming the local build (their code runs from a directory laid out
        as the real zip is, see README)."""
        name = os.path.basename(local_uri)
        if name == "edge-signer.zip":
            data = open(self.bins["edge-zip"], "rb").read()
        else:
            d = os.path.join(self.run_dir, "code", name[:-4])
            if not os.path.isdir(d):
                os.makedirs(d)
                exe = {"rotator.zip": "rotator", "authorizer.zip": "authorizer"}[name]
                os.symlink(self.bins[exe], os.path.join(d, "bootstrap"))
                if name == "rotator.zip":
                    os.makedirs(os.path.join(d, "edge-assets"))
                    for f in ("index.mjs", "signer.wasm"):
                        shutil.copy(os.path.join(self.bins["edge-assets"], f), os.path.join(d, "edge-assets", f))
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                z.writestr("LOCAL-BUILD", f"{name}: {self.bins.get(name[:-4], '')}\n")
            data = buf.getvalue()
        sha = self.gateway.remember_zip(data)
        if name != "edge-signer.zip":
            self.code_dirs[sha] = os.path.join(self.run_dir, "code", name[:-4])
        s3 = self.admin("s3")
        try:
            s3.create_bucket(Bucket=bucket)
        except Exception:  # noqa: BLE001 - exists
            pass
        s3.put_object(Bucket=bucket, Key=name, Body=data)
        return bucket, name

    # ------------------------------------------------------------ functions
    def function(self, arn):
        arn = ":".join(arn.split(":")[:7])
        with self.lock:
            if arn in self.functions:
                return self.functions[arn]
            lam = self.admin("lambda", arn.split(":")[3])
            try:
                config = lam.get_function_configuration(FunctionName=arn)
            except Exception:  # noqa: BLE001
                return None
            code = self.code_dirs.get(config["CodeSha256"])
            if code is None:
                return None
            # moto's Lambda does not keep LoggingConfig: the template's (resolved) value.
            props = self.function_properties.get(config["FunctionName"], {})
            if "LoggingConfig" in props and "LoggingConfig" not in config:
                config["LoggingConfig"] = props["LoggingConfig"]
            creds = self.assume(config["Role"], config["FunctionName"])
            f = Function(config["FunctionName"], config, code, creds, self.run_dir,
                         instances=2 if "authorizer" in config["FunctionName"] else 1)
            self.functions[arn] = f
            return f

    def restart(self, arn):
        """Lambda runs new execution environments after a configuration change."""
        arn = ":".join(arn.split(":")[:7])
        with self.lock:
            f = self.functions.pop(arn, None)
        if f is not None:
            f.stop()

    def policies_of(self, role_arn):
        iam = self.admin("iam")
        name = role_arn.split("/")[-1]
        out = []
        for p in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
            out.append({"name": p, "document": _document(doc)})
        for a in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            try:
                pol = iam.get_policy(PolicyArn=a["PolicyArn"])["Policy"]
                v = iam.get_policy_version(PolicyArn=a["PolicyArn"], VersionId=pol["DefaultVersionId"])
                doc = v["PolicyVersion"]["Document"]
                out.append({"name": a["PolicyName"], "document": _document(doc)})
            except Exception:  # noqa: BLE001 - an AWS managed policy moto does not carry: grants nothing here
                pass
        return out

    def assume(self, role_arn, session):
        """The execution role's credentials, and IAM for every call made with them."""
        creds = self.admin("sts").assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
        principal = f"arn:aws:sts::123456789012:assumed-role/{role_arn.split('/')[-1]}/{session}"
        self.gateway.register(creds["AccessKeyId"], principal, session, self.policies_of(role_arn))
        return creds

    def reset(self):
        for f in self.functions.values():
            f.stop()
        self.functions.clear()
        self.edges.stop()
        self.edges.workers.clear()
        self.cloudfront.dists.clear()
        self.gateway.principals.clear()
        self.gateway.denied.clear()
        self.gateway.unmapped.clear()
        self.gateway.calls.clear()
        self.dataplane.target_origins.reset()
        self.gateway.secret_keys.clear()
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{self.moto_port}/moto-api/reset", method="POST"), timeout=30).read()
        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{self.moto_port}/moto-api/config", method="POST",
            data=json.dumps({"lambda": {"use_docker": False}}).encode(),
            headers={"Content-Type": "application/json"}), timeout=30).read()


def _document(doc):
    """A policy document as IAM returns it. moto's CloudFormation stores an inline
    policy given as an object as its Python repr; read that back as the object."""
    if not isinstance(doc, str):
        return doc
    try:
        return json.loads(doc)
    except ValueError:
        import ast
        return ast.literal_eval(doc)


class SecretsManager:
    """Secrets Manager's rotation driver, which moto cannot run (it cannot invoke our
    function): RotateSecret as testkit::start_rotation mirrors it, then the four steps
    invoked in order; a failed step is retried, as Secrets Manager retries (its cadence
    is undocumented: here every 2 s, `attempts` times). With RotateImmediately=false,
    the testSecret-only configuration test (RotateSecret API reference), whose failure
    fails the RotationSchedule resource (aws/aws-cdk#26481)."""

    def __init__(self, world, log):
        self.world = world
        self.log = log
        self.schedules = {}
        self.failed = []  # rotations started by a RotateSecret call that failed

    def schedule(self, props):
        secret = props["SecretId"]
        self.schedules[secret] = props
        if str(props.get("RotateImmediatelyOnUpdate", "true")).lower() == "true":
            self.rotate(secret)
        else:
            self.configuration_test(secret)

    def _start(self, secret, immediately=True):
        props = self.schedules[secret]
        sm = self.world.admin("secretsmanager", secret.split(":")[3])
        for vid, stages in sm.describe_secret(SecretId=secret).get("VersionIdsToStages", {}).items():
            if "AWSPENDING" in stages:
                sm.update_secret_version_stage(SecretId=secret, VersionStage="AWSPENDING", RemoveFromVersionId=vid)
        token = str(uuid.uuid4())
        sm.rotate_secret(SecretId=secret, ClientRequestToken=token, RotationLambdaARN=props["RotationLambdaARN"],
                         RotationRules=_moto_rules(props.get("RotationRules", {})), RotateImmediately=immediately)
        return sm, token

    def _invoke(self, secret, step, token, attempts=8):
        function_arn = self.schedules[secret]["RotationLambdaARN"]
        # Lambda authorizes each invocation by Secrets Manager against the function's
        # resource policy (gateway.invoke_allowed); a refusal is no transient failure.
        if not self.world.gateway.invoke_allowed(function_arn, "secretsmanager.amazonaws.com", secret):
            raise InvokeError(f"AccessDeniedException: {SECRETS_MANAGER_CANNOT_INVOKE}")
        fn = self.world.function(function_arn)
        if fn is None:
            raise InvokeError("the rotation function cannot be invoked")
        last = None
        for i in range(attempts):
            try:
                fn.invoke({"Step": step, "SecretId": secret, "ClientRequestToken": token,
                           "RotationToken": str(uuid.uuid4())})
                self.log(f"    {step}: ok" + (f" (attempt {i + 1})" if i else ""))
                return
            except InvokeError as e:
                last = e
                self.log(f"    {step}: failed ({_short(str(e))}); Secrets Manager retries")
                time.sleep(2)
        raise InvokeError(f"{step} failed {attempts} times: {_short(str(last))}")

    def rotate(self, secret):
        sm, token = self._start(secret)
        self.steps(secret, token)

    def steps(self, secret, token):
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            self._invoke(secret, step, token)

    def configured(self, secret):
        props = self.schedules.get(secret)
        if props is None:
            return None
        return props["RotationLambdaARN"], _moto_rules(props.get("RotationRules", {}))

    def rotate_secret_called(self, secret, token, region):
        """A RotateSecret someone made (`edgeseal rotate`): Secrets Manager invokes the
        function, in the background, as it does."""
        if secret not in self.schedules:
            return
        def run():
            try:
                self.steps(secret, token)
                self.log("    rotation started by RotateSecret: completed")
            except InvokeError as e:
                self.log(f"    rotation started by RotateSecret: failed: {_short(str(e))}")
                self.failed.append(str(e))
        threading.Thread(target=run, daemon=True).start()

    def configuration_test(self, secret):
        # RotateImmediately=false: moto stages AWSPENDING with the current value, as
        # AWS's own rotation functions expect (getmoto/moto#8547), and leaves AWSCURRENT
        # alone (with true it would take the new, empty version for the current one).
        sm, token = self._start(secret, immediately=False)
        try:
            self._invoke(secret, "testSecret", token, attempts=1)
        finally:
            sm.update_secret_version_stage(SecretId=secret, VersionStage="AWSPENDING", RemoveFromVersionId=token)


def _statements(node):
    """Every IAM statement in a policy tree (inside Fn::If branches too)."""
    if isinstance(node, list):
        for x in node:
            yield from _statements(x)
    elif isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        else:
            for v in node.values():
                yield from _statements(v)


# The principals --mutate-iam strips, one granted action at a time: the functions' roles
# (inline policies) and the operator's managed policy (what the CLI runs with).
PRINCIPALS = ("RotatorFunctionRole", "AuthorizerFunctionRole", "OperatorPolicy")


def _policy_tree(resource):
    props = resource.get("Properties", {})
    return props.get("Policies", props.get("PolicyDocument", []))


def remove_grant(template, lid, action):
    """--mutate-iam: `action` no longer granted by any statement of `lid` (a role or
    the operator policy); for a function's resource policy (`AWS::Lambda::Permission`,
    "action" lambda:InvokeFunction), the permission is not created at all."""
    resource = template["Resources"][lid]
    if resource["Type"] == "AWS::Lambda::Permission":
        _drop_resource(template, lid)
        return
    for st in _statements(_policy_tree(resource)):
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        kept = [a for a in acts if a != action]
        # An empty Action is not a valid statement; one that names no real action
        # grants nothing, as removing the statement would.
        st["Action"] = kept or ["edgeseal-removed:Nothing"]


def _drop_resource(template, lid):
    """The template without resource `lid`: DependsOn entries and Refs to it go too (a
    Ref to it only appears where it orders creation: FirstRotationProbesReady)."""
    del template["Resources"][lid]

    def scrub(node):
        if isinstance(node, dict):
            for k, v in list(node.items()):
                if v == {"Ref": lid}:
                    node[k] = ""
                else:
                    scrub(v)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if v == {"Ref": lid}:
                    node[i] = ""
                else:
                    scrub(v)
    for res in template["Resources"].values():
        deps = res.get("DependsOn")
        if deps == lid:
            del res["DependsOn"]
        elif isinstance(deps, list) and lid in deps:
            res["DependsOn"] = [d for d in deps if d != lid]
        scrub(res)


def granted(template, resolver):
    """(principal, action) the template grants, conditions applied: every action of the
    functions' roles and the operator policy, and each function permission
    (`AWS::Lambda::Permission`, as (its logical id, lambda:InvokeFunction))."""
    def active(node):
        if isinstance(node, list):
            for x in node:
                yield from active(x)
        elif isinstance(node, dict):
            if list(node) == ["Fn::If"]:
                cond, yes, no = node["Fn::If"]
                yield from active(yes if resolver.condition(cond) else no)
            elif "Effect" in node and "Action" in node:
                yield node
            else:
                for v in node.values():
                    yield from active(v)
    out = set()
    for lid in PRINCIPALS:
        if lid in template["Resources"]:
            for st in active(_policy_tree(template["Resources"][lid])):
                acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                out.update((lid, a) for a in acts if a != "edgeseal-removed:Nothing")
    for lid, res in template["Resources"].items():
        if res["Type"] == "AWS::Lambda::Permission" and resolver.active(lid):
            out.add((lid, "lambda:InvokeFunction"))
    return out


def _moto_rules(rules):
    """moto turns rotation on only for `AutomaticallyAfterDays` (a `ScheduleExpression`
    leaves RotationEnabled false, where Secrets Manager enables it): `rate(N days)` is
    the same schedule in days; any other expression is passed as one day (the schedule's
    period is not what the paths test)."""
    import re
    if "AutomaticallyAfterDays" in rules:
        return {"AutomaticallyAfterDays": int(rules["AutomaticallyAfterDays"])}
    m = re.fullmatch(r"rate\((\d+) days?\)", rules.get("ScheduleExpression", ""))
    return {"AutomaticallyAfterDays": int(m.group(1)) if m else 1}


def _short(s):
    s = s.replace("\n", " ")
    return s if len(s) < 300 else s[:300] + "..."


class Stack:
    def __init__(self, world, name, region, params, log, template_path=None):
        self.world = world
        self.name = name
        self.region = region
        self.log = log
        self.sm = SecretsManager(world, log)
        # DEPLOY_PATHS_TEMPLATE: run the paths against another template (e.g. an older
        # one, to see what a path catches).
        template_path = template_path or os.environ.get("DEPLOY_PATHS_TEMPLATE") or \
            os.path.join(ROOT, "deploy", "template.yaml")
        self.template_path = template_path
        raw = tpl_mod.load(template_path)
        if "OperatorRoleName" not in raw.get("Parameters", {}):
            # An older template (DEPLOY_PATHS_TEMPLATE) defines no operator policy: the
            # CLI's role then has nothing attached, and its first call is refused.
            params.pop("OperatorRoleName", None)
        values = tpl_mod.parameter_values(raw, params)
        bucket = "edgeseal-artifacts"
        packaged = tpl_mod.package(raw, lambda uri: world.upload(uri, bucket))
        self.template = tpl_mod.sam_transform(packaged, values, region, name)
        if getattr(world, "mutation", None):
            remove_grant(self.template, *world.mutation)
        ssm = lambda n: world.admin("ssm", region).get_parameter(Name=n)["Parameter"]["Value"]  # noqa: E731
        self.r = tpl_mod.Resolver(self.template, values, region, name, ssm)
        self.r.check_rules()
        from . import paths
        paths.PATH_GRANTS.setdefault(getattr(world, "current_path", None), set()).update(granted(self.template, self.r))
        world.gateway.on_rotate_secret = self.sm.rotate_secret_called
        world.gateway.rotation_config = self.sm.configured
        self.deployer = Deployer(world.admin, self.r, name, world.cloudfront, self.sm, world.add_host)
        self.deployer.function_properties = world.function_properties

    def create(self):
        order = tpl_mod.creation_order(self.template, self.r)
        self.deployer.deploy(order)
        return self

    def update(self, params):
        """A stack update with new parameter values: every resource whose evaluated
        properties change is updated the way CloudFormation's handler updates it. Only
        the changes the guide's updates make are modelled (a function's environment, an
        HTTP API authorizer's identity sources); any other change fails loudly."""
        old = {lid: self.r.eval(self.template["Resources"][lid].get("Properties", {}))
               for lid, _, _ in self.deployer.created}
        raw = tpl_mod.load(self.template_path)
        values = tpl_mod.parameter_values(raw, params)
        packaged = tpl_mod.package(raw, lambda uri: self.world.upload(uri, "edgeseal-artifacts"))
        template = tpl_mod.sam_transform(packaged, values, self.region, self.name)
        if getattr(self.world, "mutation", None):
            remove_grant(template, *self.world.mutation)
        r = tpl_mod.Resolver(template, values, self.region, self.name, self.r.ssm)
        r.check_rules()
        r.physical, r.attributes = self.r.physical, self.r.attributes
        for lid, kind, _ in self.deployer.created:
            new = r.eval(template["Resources"][lid].get("Properties", {}))
            if new == old[lid] or kind == "AWS::SecretsManager::RotationSchedule":
                continue
            if kind == "AWS::Lambda::Function":
                lam = self.world.admin("lambda", self.region)
                lam.update_function_configuration(FunctionName=self.r.physical[lid],
                                                  Environment=new.get("Environment", {"Variables": {}}))
                self.world.function_properties[new.get("FunctionName", self.r.physical[lid])] = new
                self.world.restart(lam.get_function_configuration(FunctionName=self.r.physical[lid])["FunctionArn"])
            elif kind == "AWS::ApiGatewayV2::Authorizer":
                self.world.admin("apigatewayv2", self.region).update_authorizer(
                    ApiId=new["ApiId"], AuthorizerId=self.r.physical[lid], IdentitySource=new.get("IdentitySource", []))
            else:
                raise tpl_mod.Refused(f"update of {lid} ({kind}) is not modelled: {old[lid]} -> {new}")
            self.log(f"  updated {lid} ({kind})")
        self.template, self.r = template, r

    def output(self, name):
        o = self.template["Outputs"][name]
        if "Condition" in o and not self.r.condition(o["Condition"]):
            return None
        return self.r.eval(o["Value"])
