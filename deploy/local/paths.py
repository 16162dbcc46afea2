"""The documented deployment paths (docs/deployment.md), each step in the guide's order.

Each path ends with `edgeseal doctor` passing and a rotation under traffic with no
legitimate request rejected; any call the template's IAM does not grant fails the path.
"""
import json
import os
import subprocess
import threading
import time
import traceback

from .stack import ROOT, Stack

PARAMS = os.path.join(ROOT, "deploy", "parameters")


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
        self.log(f"sam deploy {stack_name} {' '.join(f'{k}={v}' for k, v in sorted(params.items()))}")
        stack = Stack(self.world, stack_name, region, params, self.log)
        stack.create()
        for lid, kind, how in stack.deployer.created:
            self.log(f"  {lid} ({kind}): {how}")
        return stack

    def cli(self, *args, expect_ok=True):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
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

    def rotation_under_traffic(self, stack, secret, dist_domain, origin_host, path="/", rate=20):
        """Signed requests through the distribution and unsigned ones straight to the
        origin, while Secrets Manager runs a rotation, then for the propagation time."""
        dp = self.world.dataplane
        stop = threading.Event()
        counts = {"legit": 0, "legit_rejected": 0, "attack": 0, "attack_passed": 0}
        rejected = []

        def traffic():
            i = 0
            while not stop.is_set():
                i += 1
                status, _, body = dp.viewer(dist_domain, "GET", path, f"n={i}&a=b", {"User-Agent": "deploy-paths"}, b"")
                counts["legit"] += 1
                if not 200 <= status < 300:
                    counts["legit_rejected"] += 1
                    rejected.append((status, body[:200]))
                status, _, _ = dp.api(origin_host, "GET", path, "", {"User-Agent": "attacker"}, b"")
                counts["attack"] += 1
                if 200 <= status < 300:
                    counts["attack_passed"] += 1
                time.sleep(1 / rate)

        t = threading.Thread(target=traffic, daemon=True)
        t.start()
        time.sleep(1)
        started = time.monotonic()
        stack.sm.rotate(secret)
        took = time.monotonic() - started
        time.sleep(self.world.cloudfront.deploy_delay + 2)
        stop.set()
        t.join()
        self.log(f"rotation under traffic: {took:.1f} s; {counts}")
        if counts["legit_rejected"] or counts["attack_passed"] or counts["legit"] == 0:
            raise PathFailed(f"rotation under traffic: {counts}; first rejections {rejected[:3]}")
        return counts


def _tail(s, n=600):
    s = s.strip()
    return s if len(s) < n else "..." + s[-n:]


# ---------------------------------------------------------------- the paths
def new_stack(run):
    """docs/deployment.md §1: sam deploy with the defaults; the first rotation runs as
    the schedule is created; status --check; doctor; a rotation under traffic."""
    stack = run.deploy("edgeseal", run.params("new-stack.json"))
    secret, dist = stack.output("SecretArn"), stack.output("DistributionId")
    run.cli("status", "--secret-id", secret, "--distribution-id", dist, "--check")
    run.doctor(secret, dist, "/")
    domain = stack.output("DistributionUrl").split("://")[1]
    origin = stack.output("ApiUrl").split("://")[1]
    return run.rotation_under_traffic(stack, secret, domain, origin)


PATHS = {"new-stack": new_stack}
SHORT = ["new-stack"]


def select(names, short):
    if names:
        return names
    return SHORT if short else list(PATHS)


def run_path(world, name):
    run = Run(world, name)
    started = time.monotonic()
    try:
        world.reset()
        result = PATHS[name](run)
        if world.gateway.denied or world.gateway.unmapped:
            raise PathFailed(f"IAM refused {world.gateway.denied} unmapped {world.gateway.unmapped}")
        return True, f"{name}: ok ({time.monotonic() - started:.0f} s; {result})", run
    except Exception as e:  # noqa: BLE001 - a path's failure is its result line
        if not isinstance(e, PathFailed):
            run.log(traceback.format_exc())
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


def mutate_iam(world, names):
    raise SystemExit("--mutate-iam: not implemented yet")
