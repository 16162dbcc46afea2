"""The template as CloudFormation sees it: packaged, through the SAM transform, its Rules
checked and its intrinsic functions evaluated.

- Packaging stands in for `sam package` / `aws cloudformation package`: each local
  `CodeUri` becomes the S3 location its zip was uploaded to (on moto's S3).
- The transform is `aws-sam-translator`, the library `sam` runs (`transform()`), with the
  parameter values of the run, as `sam deploy` passes them.
- Rules are CloudFormation's own pre-flight: each rule whose `RuleCondition` holds must
  have every `Assert` true, else the stack is refused with its `AssertDescription`
  (CloudFormation User Guide, "Rules"). moto's CloudFormation ignores `Rules`, so they
  are evaluated here.
- `Resolver` evaluates the intrinsic functions the template uses (Ref, Fn::GetAtt,
  Fn::Sub, Fn::If, Fn::Select, Fn::Split, Fn::Join, Fn::Equals, Fn::Not, Fn::And,
  Fn::Or, Fn::Contains, AWS::NoValue, `{{resolve:ssm:NAME}}`) as the User Guide's
  "Intrinsic function reference" defines them, over the resources already created.
"""
import copy
import json
import logging
import os
import re

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

ACCOUNT = "123456789012"
# The translator logs its usage metrics on stderr when nothing publishes them.
logging.getLogger("samtranslator").setLevel(logging.ERROR)
NO_VALUE = object()


class Refused(Exception):
    """CloudFormation refuses the stack before creating anything (a Rule, a parameter)."""


def load(path):
    tpl, matches = decode(str(path))
    if matches:
        raise Refused(f"cannot read {path}: {matches}")
    return json.loads(json.dumps(tpl))


def package(tpl, upload):
    """Replace each local CodeUri with the S3 location `upload(local_path)` returns."""
    tpl = copy.deepcopy(tpl)
    for res in tpl["Resources"].values():
        props = res.get("Properties", {})
        uri = props.get("CodeUri")
        if isinstance(uri, str) and not uri.startswith("s3://"):
            bucket, key = upload(uri)
            props["CodeUri"] = {"Bucket": bucket, "Key": key}
    return tpl


class _NoManagedPolicies:
    """The transform asks for managed policy ARNs by name only when a function's
    Policies name one; this template names none (an ARN passes through)."""

    def load(self):
        return {}


def sam_transform(tpl, parameters, region, stack_name):
    """`sam deploy`'s transform: the translator reads the region from the boto3
    session, as the CLI's does (AWS_DEFAULT_REGION)."""
    values = dict(parameters)
    values.update({k: v for k, v in pseudo(region, stack_name).items() if isinstance(v, str)})
    os.environ["AWS_DEFAULT_REGION"] = region
    return transform(copy.deepcopy(tpl), values, _NoManagedPolicies())


def pseudo(region, stack_name):
    return {
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT,
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{stack_name}/"
        "8f1c2e40-0b6a-11ef-9d2b-0affd7a1e1c1",
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NoValue": NO_VALUE,
    }


def parameter_values(tpl, given):
    """Every parameter's value: given, else its Default; checked as CloudFormation
    checks them (AllowedValues, AllowedPattern, MinValue/MaxValue)."""
    out = {}
    for name, spec in tpl.get("Parameters", {}).items():
        if name in given:
            value = str(given[name])
        elif "Default" in spec:
            value = str(spec["Default"])
        else:
            raise Refused(f"Parameters: [{name}] must have values")
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            raise Refused(f"Parameter '{name}' must be one of AllowedValues")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            raise Refused(f"Parameter '{name}' must match pattern {spec['AllowedPattern']}")
        if spec.get("Type") == "Number":
            n = float(value)
            if "MinValue" in spec and n < float(spec["MinValue"]):
                raise Refused(f"Parameter '{name}' must be a number not less than {spec['MinValue']}")
            if "MaxValue" in spec and n > float(spec["MaxValue"]):
                raise Refused(f"Parameter '{name}' must be a number not greater than {spec['MaxValue']}")
        out[name] = value
    unknown = set(given) - set(out)
    if unknown:
        raise Refused(f"Parameters: {sorted(unknown)} do not exist in the template")
    return out


class Resolver:
    """Evaluates intrinsic functions. `physical[id]` is a created resource's Ref value,
    `attributes[id][name]` its Fn::GetAtt values; `ssm(name)` reads a parameter."""

    def __init__(self, tpl, params, region, stack_name, ssm=None):
        self.tpl = tpl
        self.refs = dict(params)
        self.refs.update(pseudo(region, stack_name))
        self.physical = {}
        self.attributes = {}
        self.ssm = ssm
        self.conditions = {}
        for name in tpl.get("Conditions", {}):
            self.condition(name)

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.eval(self.tpl["Conditions"][name]))
        return self.conditions[name]

    def active(self, logical_id):
        cond = self.tpl["Resources"][logical_id].get("Condition")
        return cond is None or self.condition(cond)

    def check_rules(self):
        for name, rule in self.tpl.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.eval(rule["RuleCondition"]):
                continue
            for a in rule.get("Assertions", []):
                if not self.eval(a["Assert"]):
                    raise Refused(f"Rule {name}: {a.get('AssertDescription', 'assertion failed')}")

    def ref(self, name):
        if name in self.refs:
            return self.refs[name]
        if name in self.physical:
            return self.physical[name]
        raise KeyError(f"Ref {name}: not created yet")

    def eval(self, node):
        if isinstance(node, list):
            return [v for v in (self.eval(x) for x in node) if v is not NO_VALUE]
        if isinstance(node, str):
            return self.dynamic(node)
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Condition":
                return self.condition(arg)
            if fn.startswith("Fn::"):
                return getattr(self, "fn_" + fn[4:].lower())(arg)
        out = {}
        for k, v in node.items():
            v = self.eval(v)
            if v is not NO_VALUE:
                out[k] = v
        return out

    def dynamic(self, s):
        def repl(m):
            if self.ssm is None:
                raise KeyError("ssm dynamic reference without an SSM reader")
            return self.ssm(m.group(1))
        return re.sub(r"\{\{resolve:ssm:([^}:]+)\}\}", repl, s)

    def fn_getatt(self, arg):
        lid, attr = arg if isinstance(arg, list) else arg.split(".", 1)
        try:
            return self.attributes[lid][attr]
        except KeyError:
            raise KeyError(f"Fn::GetAtt {lid}.{attr}: not created yet") from None

    def fn_sub(self, arg):
        if isinstance(arg, list):
            text, local = arg
            local = {k: self.eval(v) for k, v in local.items()}
        else:
            text, local = arg, {}

        def repl(m):
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return str(local[name])
            if "." in name and name.split(".")[0] in self.tpl["Resources"]:
                return str(self.fn_getatt(name))
            return str(self.ref(name))
        return self.dynamic(re.sub(r"\$\{([^}]+)\}", repl, text))

    def fn_if(self, arg):
        cond, yes, no = arg
        return self.eval(yes if self.condition(cond) else no)

    def fn_select(self, arg):
        index, items = arg
        return self.eval(items)[int(self.eval(index))]

    def fn_split(self, arg):
        sep, text = arg
        return self.eval(text).split(sep)

    def fn_join(self, arg):
        sep, items = arg
        return self.eval(sep).join(str(x) for x in self.eval(items))

    def fn_equals(self, arg):
        a, b = (self.eval(x) for x in arg)
        return str(a) == str(b)

    def fn_not(self, arg):
        return not self.eval(arg[0])

    def fn_and(self, arg):
        return all(self.eval(x) for x in arg)

    def fn_or(self, arg):
        return any(self.eval(x) for x in arg)

    def fn_contains(self, arg):
        items, value = arg
        return self.eval(value) in self.eval(items)


def references(node, out=None):
    """Logical ids a node refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    out = set() if out is None else out
    if isinstance(node, list):
        for x in node:
            references(x, out)
    elif isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                out.add(v)
            elif k == "Fn::GetAtt":
                out.add(v[0] if isinstance(v, list) else v.split(".")[0])
            elif k == "Fn::Sub":
                text = v[0] if isinstance(v, list) else v
                for name in re.findall(r"\$\{([^}!][^}]*)\}", text):
                    out.add(name.split(".")[0])
                if isinstance(v, list):
                    references(v[1], out)
            else:
                references(v, out)
    return out


def creation_order(tpl, resolver):
    """Active resources, each after everything it references or DependsOn names."""
    res = {k: v for k, v in tpl["Resources"].items() if resolver.active(k)}
    deps = {}
    for lid, r in res.items():
        d = references(r.get("Properties", {})) | references(r.get("Metadata", {}))
        dep = r.get("DependsOn", [])
        d |= set([dep] if isinstance(dep, str) else dep)
        deps[lid] = {x for x in d if x in res}
    order, done = [], set()
    while len(order) < len(res):
        ready = sorted(l for l in res if l not in done and deps[l] <= done)
        if not ready:
            raise Refused(f"circular dependency among {sorted(set(res) - done)}")
        order += ready
        done |= set(ready)
    return order
