"""The template as one documented path deploys it, rendered for the demo.

    .venv/bin/python -m deploy.local.render --path new-stack [--template FILE] [--set KEY=VALUE ...]

Prints JSON on stdout: the parameter values (the path's file, then each `--set`, then the
template's defaults) and every resource the stack creates with those values, its
properties evaluated after the real SAM transform (`aws-sam-translator`, as `sam deploy`
runs it), the same way `bash scripts/deploy-paths` evaluates them (template.py: packaging,
parameter constraints, Rules, intrinsic functions). Nothing is created: a resource's Ref
is the placeholder `<<Ref:LOGICAL_ID>>`, an attribute `<<GetAtt:LOGICAL_ID.NAME>>`, an SSM
dynamic reference `<<SSM:NAME>>`; the reader substitutes the resources it created
(`bash scripts/demo`: demo/src/stack/template/).

Exit status 2 with the reason on stderr when CloudFormation would refuse the stack
(a parameter constraint, a Rule, a transform error).
"""
import argparse
import json
import os
import sys

from samtranslator.model.exceptions import InvalidDocumentException

from . import template as t

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGION = "us-east-1"
STACK = "edgeseal-demo"


class _Attributes(dict):
    """Every attribute of a resource: its placeholder."""

    def __init__(self, lid):
        super().__init__()
        self.lid = lid

    def __missing__(self, name):
        return f"<<GetAtt:{self.lid}.{name}>>"


class _AllAttributes(dict):
    def __missing__(self, lid):
        return _Attributes(lid)


def path_parameters(name):
    """The parameters of a documented path (deploy/parameters/NAME.json, as
    `sam deploy --parameter-overrides` takes them)."""
    file = {"new-stack": "new-stack.json", "existing-distribution": "existing.json",
            "migration": "migration.json"}.get(name)
    if file is None:
        raise t.Refused(f"no documented path {name!r}")
    with open(os.path.join(ROOT, "deploy", "parameters", file)) as f:
        return {p["ParameterKey"]: p["ParameterValue"] for p in json.load(f)}, file


def render(template_path, path, overrides):
    raw = t.load(template_path)
    given, file = path_parameters(path)
    given.update(overrides)
    values = t.parameter_values(raw, given)
    # `sam package` stand-in: the code's location does not matter to what is rendered.
    packaged = t.package(raw, lambda uri: ("edgeseal-artifacts", os.path.basename(uri)))
    tpl = t.sam_transform(packaged, values, REGION, STACK)
    r = t.Resolver(tpl, values, REGION, STACK, ssm=lambda name: f"<<SSM:{name}>>")
    r.check_rules()
    r.physical = {lid: f"<<Ref:{lid}>>" for lid in tpl["Resources"]}
    r.attributes = _AllAttributes()
    resources = {}
    for lid in t.creation_order(tpl, r):
        res = tpl["Resources"][lid]
        resources[lid] = {"Type": res["Type"], "Properties": r.eval(res.get("Properties", {}))}
    return {
        "template": os.path.abspath(template_path),
        "path": path,
        "parameters_file": f"deploy/parameters/{file}",
        "parameters": values,
        "region": REGION,
        "stack_name": STACK,
        "resources": resources,
    }


def main():
    ap = argparse.ArgumentParser(prog="python -m deploy.local.render")
    ap.add_argument("--path", default="new-stack", help="documented path (deploy/parameters)")
    ap.add_argument("--template", default=os.path.join(ROOT, "deploy", "template.yaml"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a parameter value over the path's (repeatable)")
    args = ap.parse_args()
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            ap.error(f"--set {item!r}: expected KEY=VALUE")
        overrides[key] = value
    try:
        out = render(args.template, args.path, overrides)
    except (t.Refused, InvalidDocumentException, KeyError, ValueError) as e:
        detail = e
        if isinstance(e, InvalidDocumentException):
            detail = "; ".join(str(c) for c in e.causes)
        print(f"{args.template}: {detail}", file=sys.stderr)
        sys.exit(2)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
