"""The documented deployment paths (docs/deployment.md), each step in the guide's order.

Each path ends with `edgeseal doctor` passing and a rotation under traffic with no
legitimate request rejected; any call the template's IAM does not grant fails the path.
"""
import fnmatch
import json
import os
import subprocess
import threading
import time
import traceback

from .stack import ROOT, Stack

PARAMS = os.path.join(ROOT, "deploy", "parameters")
ACCOUNT = "123456789012"
OPERATOR_ROLE = "edgeseal-operator"


class PathFailed(Exception):
    pass


class Run:
    def __init__(self, world, name):
        self.world = world
        self.name = name
        self.lines = []

    def log(self, msg):
        self.lines.append(msg)
        if os.environ.get("DEPLOY_PATHS_VERBOSE"):
            print(f"[{self.name}] {msg}", flush=True)

    def params(self, file_name, **extra):
        with open(os.path.join(PARAMS, file_name)) as f:
            given = {p["ParameterKey"]: p["ParameterValue"] for p in json.load(f)}
        given.update(extra)
        return given

    def deploy(self, stack_name, params, region="us-east-1"):
        # The operator's role exists before the stack (the user's own); the stack
        # attaches its OperatorPolicy to it (OperatorRoleName), and the CLI runs under it.
        self.operator_role()
        params.setdefault("OperatorRoleName", OPERATOR_ROLE)
        self.log(f"sam deploy {stack_name} {' '.join(f'{k}={v}' for k, v in sorted(params.items()))}")
        stack = Stack(self.world, stack_name, region, params, self.log)
        stack.create()
        for lid, kind, how in stack.deployer.created:
            self.log(f"  {lid} ({kind}): {how}")
        return stack

    def operator_role(self):
        """A role for whoever runs the CLI, with no policy of its own: what it may do is
        the stack's OperatorPolicy, nothing else."""
        iam = self.world.admin("iam")
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
        try:
            iam.create_role(RoleName=OPERATOR_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        except iam.exceptions.EntityAlreadyExistsException:
            pass

    def cli(self, *args, expect_ok=True):
        # The operator's credentials (sts:AssumeRole of its role): every call the CLI
        # makes is authorized by the gateway against the policies attached to it now.
        creds = self.world.assume(f"arn:aws:iam::{ACCOUNT}:role/{OPERATOR_ROLE}", "edgeseal-cli")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
               "AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
               "AWS_SESSION_TOKEN": creds["SessionToken"], "AWS_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true"}
        p = subprocess.run([self.world.bins["cli"], "--region", "us-east-1", *args], env=env,
                           capture_output=True, text=True, timeout=300)
        self.log(f"edgeseal {' '.join(args)} -> exit {p.returncode}")
        for line in (p.stdout + p.stderr).splitlines():
            self.log("    " + line)
        if expect_ok and p.returncode != 0:
            raise PathFailed(f"edgeseal {args[0]} exited {p.returncode}: {_tail(p.stdout + p.stderr)}")
        return p

    def doctor(self, secret, dist, path="/", *extra):
        self.cli("doctor", "--secret-id", secret, "--distribution-id", dist, "--path", path, *extra)

    def rotation_under_traffic(self, stack, secret, dist_domain, origin_host, path="/", rate=20, rotations=2,
                               method="GET", body=b"", headers=None, origin_path=None):
        """Signed requests through the distribution and unsigned ones straight to the
        origin, while Secrets Manager runs a rotation, then for the propagation time.
        (`method`/`body`/`headers`: the request, e.g. a GraphQL POST; `origin_path`: the
        path at the origin when it differs, e.g. a REST API's stage in front.)"""
        dp = self.world.dataplane
        stop = threading.Event()
        counts = {"legit": 0, "legit_rejected": 0, "attack": 0, "attack_passed": 0}
        rejected = []

        def traffic():
            i = 0
            while not stop.is_set():
                i += 1
                extra = dict(headers or {})
                status, _, answer = dp.viewer(dist_domain, method, path, f"n={i}&a=b",
                                              {"User-Agent": "deploy-paths", **extra}, body)
                counts["legit"] += 1
                if not 200 <= status < 300:
                    counts["legit_rejected"] += 1
                    rejected.append((status, answer[:200]))
                status, _, _ = dp.api(origin_host, method, origin_path or path, "",
                                      {"User-Agent": "attacker", **extra}, body)
                counts["attack"] += 1
                if 200 <= status < 300:
                    counts["attack_passed"] += 1
                time.sleep(1 / rate)

        t = threading.Thread(target=traffic, daemon=True)
        t.start()
        time.sleep(1)
        started = time.monotonic()
        try:
            # Two rotations after the stack's first (pruning is checked after them).
            for i in range(rotations):
                if i:
                    # Rotations on AWS are minutes apart at least (CloudFront propagation;
                    # the rotator refuses while the last change propagates). The stand-in
                    # deploys in seconds, so space them as the authorizer assumes: at least
                    # its UNKNOWN_KEY_MIN_INTERVAL_SECS (10 s), or an instance that fetched
                    # the last new key moments ago cannot fetch this one yet (seen: one
                    # request in ~220 denied unknown_key with rotations 4 s apart).
                    time.sleep(11)
                stack.sm.rotate(secret)
            took = time.monotonic() - started
            time.sleep(self.world.cloudfront.deploy_delay + 2)
        finally:
            stop.set()
            t.join()
        self.log(f"rotation under traffic: {took:.1f} s; {counts}")
        self.check_pruned(stack)
        if counts["legit_rejected"] or counts["attack_passed"] or counts["legit"] == 0:
            raise PathFailed(f"rotation under traffic: {counts}; first rejections {rejected[:3]}")
        return counts


    def check_pruned(self, stack):
        """finishSecret keeps EDGE_KEEP_VERSIONS edgeseal-published versions (the
        bootstrap version is the stack's, not counted) and deletes older ones."""
        lam = self.world.admin("lambda")
        rotator = lam.get_function_configuration(FunctionName=stack.output("RotatorFunctionArn"))
        env = rotator.get("Environment", {}).get("Variables", {})
        if env.get("ROTATION_TARGET", "signed") != "signed":
            return
        keep = int(env.get("EDGE_KEEP_VERSIONS", "3"))
        edge = stack.output("EdgeFunctionArn")
        # The rotator describes what it publishes "edgeseal keyid=..."
        # (rotator/src/edge/mod.rs, VERSION_DESCRIPTION_PREFIX).
        versions = [v for v in lam.list_versions_by_function(FunctionName=edge)["Versions"]
                    if v["Version"] != "$LATEST" and v.get("Description", "").startswith("edgeseal keyid=")]
        self.log(f"edge versions published by the rotator and kept: {len(versions)} (EDGE_KEEP_VERSIONS {keep})")
        if len(versions) > keep:
            raise PathFailed(f"{len(versions)} edge versions kept, more than EDGE_KEEP_VERSIONS={keep}: not pruned")


def _tail(s, n=600):
    s = s.strip()
    return s if len(s) < n else "..." + s[-n:]


# ---------------------------------------------------------------- the paths
def new_stack(run, params=None):
    """docs/deployment.md §1: sam deploy with the defaults; the first rotation runs as
    the schedule is created; status --check; doctor; a rotation under traffic."""
    stack = run.deploy("edgeseal", params or run.params("new-stack.json"))
    secret, dist = stack.output("SecretArn"), stack.output("DistributionId")
    wait_status_check(run, secret, [dist], stack=stack)
    run.doctor(secret, dist, "/")
    domain = stack.output("DistributionUrl").split("://")[1]
    origin = stack.output("ApiUrl").split("://")[1]
    return run.rotation_under_traffic(stack, secret, domain, origin)


def kms_key(run):
    """docs/deployment.md, "A customer-managed KMS key": the new stack with its secret
    encrypted under a key of the user's (created in moto with the default key policy,
    which lets IAM policies grant its use). Every GetSecretValue / PutSecretValue of the
    functions and the CLI then needs the template's KMS grants, through Secrets Manager
    (kms:ViaService) and for this secret (kms:EncryptionContext:SecretARN)."""
    key = run.world.admin("kms").create_key(Description="shop secrets")["KeyMetadata"]["Arn"]
    return new_stack(run, run.params("kms-key.json", SecretKmsKeyArn=key))


# ---------------------------------------------------------------- the user's own setup
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
NS = "http://cloudfront.amazonaws.com/doc/2020-05-31/"


def users_http_api(run, region="us-east-1"):
    """An HTTP API the user already has: a $default route to its backend, no authorizer."""
    v2 = run.world.admin("apigatewayv2", region)
    api = v2.create_api(Name="shop", ProtocolType="HTTP")["ApiId"]
    integration = v2.create_integration(ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                        IntegrationUri="https://backend.shop.example", PayloadFormatVersion="1.0")
    route = v2.create_route(ApiId=api, RouteKey="$default", Target=f"integrations/{integration['IntegrationId']}")
    v2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    run.world.add_host(f"{api}.execute-api.{region}.amazonaws.com")
    return api, route["RouteId"]


def users_distribution(run, origin_host, staging=False, policy_id=None, cdp_id=None):
    """A distribution the user already has in front of the API: CachingDisabled and a
    custom origin request policy that forwards every viewer header but Host and every
    query string (what the guide asks of an existing distribution)."""
    from .cloudfront import from_cloudformation
    cfn = {"Comment": "shop", "Enabled": True,
           "Origins": [{"Id": "api", "DomainName": origin_host,
                        "CustomOriginConfig": {"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": ["TLSv1.2"]}}],
           "DefaultCacheBehavior": {"TargetOriginId": "api", "ViewerProtocolPolicy": "redirect-to-https",
                                    "CachePolicyId": CACHING_DISABLED, "OriginRequestPolicyId": policy_id}}
    if staging:
        cfn["Staging"] = True
    if cdp_id:
        cfn["ContinuousDeploymentPolicyId"] = cdp_id
    return run.world.cloudfront.create(from_cloudformation(cfn))


def custom_origin_request_policy(run, policy_id="0f1e2d3c-aaaa-4bbb-8ccc-000000000001"):
    xml = (f'<OriginRequestPolicy xmlns="{NS}"><Id>{policy_id}</Id><LastModifiedTime>2026-01-01T00:00:00Z</LastModifiedTime>'
           "<OriginRequestPolicyConfig><Comment>shop</Comment><Name>shop-all-but-host</Name>"
           "<HeadersConfig><HeaderBehavior>allExcept</HeaderBehavior><Headers><Quantity>1</Quantity><Items><Name>Host</Name></Items></Headers></HeadersConfig>"
           "<CookiesConfig><CookieBehavior>none</CookieBehavior></CookiesConfig>"
           "<QueryStringsConfig><QueryStringBehavior>all</QueryStringBehavior></QueryStringsConfig>"
           "</OriginRequestPolicyConfig></OriginRequestPolicy>")
    run.world.cloudfront.put_policy("origin-request-policy", policy_id, xml)
    return policy_id


def custom_cache_policy(run, policy_id="0f1e2d3c-aaaa-4bbb-8ccc-000000000002"):
    """A cache policy of the user's own: nothing cached (TTL 0), every query string in
    the key (CloudFront API reference, CachePolicyConfig)."""
    xml = (f'<CachePolicy xmlns="{NS}"><Id>{policy_id}</Id><LastModifiedTime>2026-01-01T00:00:00Z</LastModifiedTime>'
           "<CachePolicyConfig><Comment>shop</Comment><Name>shop-no-cache</Name>"
           "<DefaultTTL>0</DefaultTTL><MaxTTL>0</MaxTTL><MinTTL>0</MinTTL>"
           "<ParametersInCacheKeyAndForwardedToOrigin><EnableAcceptEncodingGzip>false</EnableAcceptEncodingGzip>"
           "<HeadersConfig><HeaderBehavior>none</HeaderBehavior></HeadersConfig>"
           "<CookiesConfig><CookieBehavior>none</CookieBehavior></CookiesConfig>"
           "<QueryStringsConfig><QueryStringBehavior>all</QueryStringBehavior></QueryStringsConfig>"
           "</ParametersInCacheKeyAndForwardedToOrigin></CachePolicyConfig></CachePolicy>")
    run.world.cloudfront.put_policy("cache-policy", policy_id, xml)
    return policy_id


def continuous_deployment_policy(run, staging_domain, cdp_id="cdp-shop-0001"):
    xml = (f'<ContinuousDeploymentPolicy xmlns="{NS}"><Id>{cdp_id}</Id><LastModifiedTime>2026-01-01T00:00:00Z</LastModifiedTime>'
           "<ContinuousDeploymentPolicyConfig><StagingDistributionDnsNames><Quantity>1</Quantity>"
           f"<Items><DnsName>{staging_domain}</DnsName></Items></StagingDistributionDnsNames><Enabled>true</Enabled>"
           "<TrafficConfig><SingleWeightConfig><Weight>0.05</Weight></SingleWeightConfig><Type>SingleWeight</Type></TrafficConfig>"
           "</ContinuousDeploymentPolicyConfig></ContinuousDeploymentPolicy>")
    run.world.cloudfront.put_policy("continuous-deployment-policy", cdp_id, xml)
    return cdp_id


def associate(run, dist_id, version_arn):
    """The guide's "associate EdgeBootstrapVersionArn with the origin-request event of
    every behavior that goes to the API" (console / update-distribution)."""
    import xml.etree.ElementTree as ET

    def change(config):
        for b in [config.find("DefaultCacheBehavior")] + config.findall("CacheBehaviors/Items/CacheBehavior"):
            old = b.find("LambdaFunctionAssociations")
            if old is not None:
                b.remove(old)
            lfa = ET.fromstring(
                "<LambdaFunctionAssociations><Quantity>1</Quantity><Items><LambdaFunctionAssociation>"
                f"<LambdaFunctionARN>{version_arn}</LambdaFunctionARN><EventType>origin-request</EventType>"
                "<IncludeBody>false</IncludeBody></LambdaFunctionAssociation></Items></LambdaFunctionAssociations>")
            b.append(lfa)
    run.world.cloudfront.edit(dist_id, change)
    run.log(f"associated {version_arn} with {dist_id}")


def wait_status_check(run, secret, dists, timeout=120, stack=None):
    deadline = time.monotonic() + timeout
    while True:
        if stack is not None and stack.sm.failed:
            raise PathFailed(f"the rotation edgeseal rotate started failed: {_tail(stack.sm.failed[0], 300)}")
        p = run.cli("status", "--secret-id", secret, "--distribution-id", ",".join(dists), "--check", expect_ok=False)
        # The guide: status --check exits 0 AND every distribution shows Deployed. While
        # one is InProgress, edges may still run the version before (after the first
        # rotation: the bootstrap version, whose key nothing accepts).
        if p.returncode == 0 and ") InProgress" not in p.stdout:
            return
        if run.world.gateway.denied:
            # A refused call already fails the path (run_path); waiting cannot help.
            raise PathFailed(f"edgeseal status --check fails after an IAM refusal: {_tail(p.stdout + p.stderr)}")
        if time.monotonic() > deadline:
            raise PathFailed(f"edgeseal status --check did not pass within {timeout} s: {_tail(p.stdout + p.stderr)}")
        time.sleep(3)


def existing_distribution(run):
    """docs/deployment.md §2, on a behavior with a custom origin request policy and a
    staging distribution: deploy with RotateImmediately=false (the configuration test
    runs now), associate the bootstrap version, edgeseal rotate, status --check, attach
    the authorizer, doctor; then a rotation under traffic."""
    api, route = users_http_api(run)
    origin = f"{api}.execute-api.us-east-1.amazonaws.com"
    policy = custom_origin_request_policy(run)
    staging = users_distribution(run, origin, staging=True, policy_id=policy)
    cdp = continuous_deployment_policy(run, staging["DomainName"])
    primary = users_distribution(run, origin, policy_id=policy, cdp_id=cdp)
    params = run.params("existing.json", ExistingDistributionId=primary["Id"], StagingDistributionId=staging["Id"],
                        ExistingHttpApiId=api)
    # 1. Deploy.
    stack = run.deploy("edgeseal", params)
    secret = stack.output("SecretArn")
    # 2. Associate the bootstrap version (primary and staging).
    for d in (primary["Id"], staging["Id"]):
        associate(run, d, stack.output("EdgeBootstrapVersionArn"))
    # 3. Rotate, wait for status --check.
    run.cli("rotate", "--secret-id", secret)
    wait_status_check(run, secret, [primary["Id"], staging["Id"]], stack=stack)
    # 4. Attach the authorizer to the routes.
    run.world.admin("apigatewayv2").update_route(ApiId=api, RouteId=route, AuthorizationType="CUSTOM",
                                                 AuthorizerId=stack.output("AuthorizerId"))
    run.log("attached the authorizer to the route")
    # 6. doctor.
    run.doctor(secret, primary["Id"], "/health")
    return run.rotation_under_traffic(stack, secret, primary["DomainName"], origin, path="/health")


ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def migration(run):
    """docs/deployment.md §3: from a static x-origin-verify header to signatures."""
    import secrets as pysecrets
    from .cloudfront import from_cloudformation
    value = pysecrets.token_urlsafe(30)
    sm = run.world.admin("secretsmanager")
    secret = sm.create_secret(Name="shop-origin-verify", SecretString=json.dumps({"HTTP_API_KEY": value}))["ARN"]
    api, route = users_http_api(run)
    origin = f"{api}.execute-api.us-east-1.amazonaws.com"
    dist = run.world.cloudfront.create(from_cloudformation({
        "Comment": "shop", "Enabled": True,
        "Origins": [{"Id": "api", "DomainName": origin,
                     "OriginCustomHeaders": [{"HeaderName": "x-origin-verify", "HeaderValue": value}],
                     "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"}}],
        "DefaultCacheBehavior": {"TargetOriginId": "api", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": custom_cache_policy(run),
                                 "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST}}))
    params = run.params("migration.json", ExistingSecretArn=secret, ExistingDistributionId=dist["Id"],
                        ExistingHttpApiId=api)
    # 1. Deploy beside the old setup, taking over the secret.
    stack = run.deploy("edgeseal", params)
    # 2. Swap the authorizer; the static header still passes, nothing else does.
    run.world.admin("apigatewayv2").update_route(ApiId=api, RouteId=route, AuthorizationType="CUSTOM",
                                                 AuthorizerId=stack.output("AuthorizerId"))
    dp = run.world.dataplane
    time.sleep(0.3)  # the API stand-in re-reads routes every 0.2 s
    with_header = dp.api(origin, "GET", "/health", "", {"x-origin-verify": value}, b"")[0]
    without = dp.api(origin, "GET", "/health", "", {}, b"")[0]
    run.log(f"step 2: with the header {with_header}, without {without}")
    if with_header != 200 or without != 403:
        raise PathFailed(f"step 2: with the header {with_header} (want 200), without {without} (want 403)")
    # 3. Associate the edge function.
    associate(run, dist["Id"], stack.output("EdgeBootstrapVersionArn"))
    # 4. Rotate to signatures.
    run.cli("rotate", "--secret-id", secret)
    wait_status_check(run, secret, [dist["Id"]], stack=stack)
    # 5. Remove the static header from the distribution.
    def drop_header(config):
        for o in config.findall("Origins/Items/Origin"):
            h = o.find("CustomHeaders")
            if h is not None:
                o.remove(h)
    run.world.cloudfront.edit(dist["Id"], drop_header)
    # 6. Signatures only (stack update).
    params["AuthMode"] = "signature"
    stack.update(params)
    # 7. doctor.
    run.doctor(secret, dist["Id"], "/health")
    return run.rotation_under_traffic(stack, secret, dist["DomainName"], origin, path="/health")


def new_stack_without_probes(run):
    """docs/deployment.md, "The rotator's probe": the new stack deployed as the guide
    shows for an origin only CloudFront can reach, `RotatorProbe=off RotatorSettleSecs=15`.
    The rotator then gets PROBE=off and SETTLE_SECS and no ORIGIN_URL / ORIGIN_TEST_*
    (it refuses to start on any mix); its rotations must complete under traffic with no
    request of its own reaching the origin (its origin test is the one request that
    carries `User-Agent: edgeseal-rotator/origin-test`). The origin here still answers
    direct requests, so that doctor's direct checks can pass: the lock itself is
    documented, not stood in for."""
    sent = run.world.gateway.origin_tests
    counts = new_stack(run, run.params("new-stack.json", RotatorProbe="off", RotatorSettleSecs="15"))
    if run.world.gateway.origin_tests != sent:
        raise PathFailed(f"{run.world.gateway.origin_tests - sent} origin tests sent with RotatorProbe=off")
    return counts


PATHS = {"new-stack": new_stack, "existing-distribution": existing_distribution, "migration": migration,
         "kms-key": kms_key, "new-stack-without-probes": new_stack_without_probes}
# The rotation targets (api-gateway-api-key, appsync-api-key, waf): target_paths.py.
from . import target_paths  # noqa: E402 - it uses this module's helpers

PATHS.update(target_paths.PATHS)
SHORT = ["new-stack"]


def select(names, short):
    if names:
        return names
    return SHORT if short else list(PATHS)


# (role, action) granted in each path's deployment, recorded by Stack (for --mutate-iam).
PATH_GRANTS = {}


def run_path(world, name):
    run = Run(world, name)
    world.current_path = name
    started = time.monotonic()
    try:
        world.reset()
        result = PATHS[name](run)
        if world.gateway.denied or world.gateway.unmapped:
            raise PathFailed(f"IAM refused {world.gateway.denied} unmapped {world.gateway.unmapped}")
        calls = len(world.gateway.calls)
        return True, f"{name}: ok ({time.monotonic() - started:.0f} s; {calls} calls authorized by IAM; {result})", run
    except Exception as e:  # noqa: BLE001 - a path's failure is its result line
        if not isinstance(e, PathFailed):
            run.log(traceback.format_exc())
        decided = sorted({(n, a, d) for n, a, _, d in world.gateway.calls})
        run.log("IAM decisions: " + "; ".join(f"{n} {a} {d}" for n, a, d in decided))
        denied = world.gateway.denied[:5]
        extra = f"; IAM denied {denied}" if denied else ""
        return False, f"{name}: FAILED ({time.monotonic() - started:.0f} s): {e}{extra}", run


def run_all(world, names):
    ok = True
    for name in names:
        good, line, run = run_path(world, name)
        print(line, flush=True)
        if not good:
            ok = False
            log = os.path.join(world.run_dir, f"{name}.log")
            with open(log, "w") as f:
                f.write("\n".join(run.lines))
            print(f"  log: {log}", flush=True)
            for fn in world.functions.values():
                print(f"  --- {fn.name} (last lines)\n" + _tail(fn.log(), 3000), flush=True)
            print("\n".join("  " + l for l in run.lines[-40:]), flush=True)
    return ok


def granted_actions(world, names):
    """(principal, action) for every action the template grants the rotator, the
    authorizer and the operator, and every function permission, in some path's
    parameters."""
    out = set()
    for name in names:
        for role, action in PATH_GRANTS.get(name, ()):
            out.add((role, action))
    return sorted(out)


def mutate_iam(world, names):
    """Remove each granted action in turn (from every statement of that role that
    grants it) and run the paths until one fails on it."""
    # A clean run first: it records which actions each path's template grants.
    if not run_all(world, names):
        print("mutate-iam: the paths do not pass unmutated; nothing to measure")
        return False
    actions = granted_actions(world, names)
    # Some actions only, comma-separated, e.g. lambda:DeleteFunction,wafv2:GetWebACL.
    only = os.environ.get("DEPLOY_PATHS_MUTATE_ONLY")
    if only:
        actions = [(r, a) for r, a in actions if a in only.split(",")]
    caught, missed = 0, []
    started = time.monotonic()
    for role, action in actions:
        world.mutation = (role, action)
        hit = None
        for name in names:
            if (role, action) not in PATH_GRANTS.get(name, ()):
                continue
            good, line, _ = run_path(world, name)
            # Caught: the path failed, and on this very grant (IAM refused the action).
            refused = [a for _, a, _ in world.gateway.denied if fnmatch.fnmatchcase(a, action)]
            if not good and refused:
                hit = f"{name}: {line.split(': ', 1)[1][:160]}"
                break
            if not good:
                print(f"    ({name} failed without refusing {action}: {line[:200]})", flush=True)
        world.mutation = None
        if hit:
            caught += 1
            print(f"  caught  {role} {action}  <- {hit}", flush=True)
        else:
            missed.append((role, action))
            print(f"  MISSED  {role} {action}  (no path failed without it)", flush=True)
    print(f"mutate-iam: {caught}/{len(actions)} removals caught in {time.monotonic() - started:.0f} s")
    return not missed
