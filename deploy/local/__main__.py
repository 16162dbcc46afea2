"""scripts/deploy-paths: every documented deployment path, on the local stack.

Runs inside its own mount + network namespace (scripts/deploy-paths starts it under
`unshare`): loopback only, /etc/hosts and the trust store of its own, so the AWS host
names the functions and the CLI use by default reach this run's gateway.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from . import paths
from .gateway import make_ca_and_cert
from .stack import ROOT, World


def namespace_setup(run_dir, hosts):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    hosts_file = os.path.join(run_dir, "hosts")
    with open(hosts_file, "w") as f:
        f.write("127.0.0.1 localhost\n" + "".join(f"127.0.0.1 {h}\n" for h in hosts))
    subprocess.run(["mount", "--bind", hosts_file, "/etc/hosts"], check=True)
    tls = make_ca_and_cert(run_dir, hosts + ["*.execute-api.us-east-1.amazonaws.com",
                                             "*.execute-api.eu-west-1.amazonaws.com", "*.cloudfront.net",
                                             "*.appsync-api.eu-west-1.amazonaws.com"])
    bundle = os.path.join(run_dir, "ca-bundle.crt")
    system = "/etc/ssl/certs/ca-certificates.crt"
    with open(bundle, "wb") as out:
        if os.path.exists(system):
            out.write(open(system, "rb").read())
        out.write(open(tls["ca.pem"], "rb").read())
    if os.path.exists(system):
        subprocess.run(["mount", "--bind", bundle, system], check=True)
    os.makedirs("/var/task", exist_ok=True)
    return tls


def start_moto(run_dir):
    port = 5000
    log = open(os.path.join(run_dir, "moto.log"), "wb")
    python = os.path.join(ROOT, ".venv", "bin", "python")
    p = subprocess.Popen([python, "-m", "deploy.local.moto_server", "-H", "127.0.0.1", "-p", str(port)],
                         stdout=log, stderr=log, env=dict(os.environ, PYTHONPATH=ROOT))
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    urllib.request.urlopen(urllib.request.Request(
        f"http://127.0.0.1:{port}/moto-api/config", method="POST",
        data=json.dumps({"lambda": {"use_docker": False}}).encode(),
        headers={"Content-Type": "application/json"}), timeout=5).read()
    return p, port


def main():
    ap = argparse.ArgumentParser(prog="scripts/deploy-paths")
    ap.add_argument("--short", action="store_true", help="the test command's short form")
    ap.add_argument("--path", action="append", help="run only these paths")
    ap.add_argument("--mutate-iam", action="store_true", help="remove each granted action in turn")
    ap.add_argument("--bins", required=True, help="JSON map of the built binaries")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    args = ap.parse_args()
    bins = json.loads(args.bins)
    run_dir = tempfile.mkdtemp(prefix="edgeseal-deploy-paths-")
    world = World(run_dir, bins, 5000)
    tls = namespace_setup(run_dir, world.hosts)
    moto, _ = start_moto(run_dir)
    world.gateway.serve(tls["cert.pem"], tls["key.pem"])
    selected = paths.select(args.path, args.short)
    ok = False
    try:
        if args.mutate_iam:
            ok = paths.mutate_iam(world, selected)
        else:
            ok = paths.run_all(world, selected)
    finally:
        for f in world.functions.values():
            f.stop()
        world.edges.stop()
        moto.terminate()
    if ok and not args.keep:
        import shutil
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        print(f"(run directory: {run_dir})", file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
