"""Check that deploy/template.yaml and docs/configuration.md agree with the functions' code.

Also: every template parameter appears in docs/configuration.md.

Run by scripts/lint-deploy with the .venv's Python (cfn-lint provides the template decoder).
For each function in the template, every environment variable it sets must be one the
function's config.rs reads; every variable a config.rs reads must be documented in
docs/configuration.md. A function whose crate is not on this branch yet is reported and
skipped, not failed.
"""
import pathlib
import re
import sys

from cfnlint.decode import decode

root = pathlib.Path(__file__).resolve().parent.parent
template, matches = decode(str(root / "deploy" / "template.yaml"))
if matches:
    sys.exit(f"cannot read the template: {matches}")

# Where each function reads its environment: config.rs, plus modules that own an
# optional setting of their own (the rotator's edge-version record).
functions = {
    "AuthorizerFunction": [
        root / "origin-verifier" / "src" / "config.rs",
        # The optional bearer-token check reads its own `JWT_*` / `JWKS_*` settings.
        root / "origin-verifier" / "src" / "jwt" / "config.rs",
    ],
    "RotatorFunction": [
        root / "rotator" / "src" / "settings.rs",
        *sorted(p for p in (root / "rotator" / "src" / "settings").glob("*.rs") if p.name != "tests.rs"),
        root / "rotator" / "src" / "edge_version.rs",
        # Each target parses its own settings beside it (TargetSettings' hook).
        *sorted((root / "rotator" / "src" / "targets").rglob("settings.rs")),
    ],
}
docs = (root / "docs" / "configuration.md").read_text()
problems = []
for name, sources in functions.items():
    present = [s for s in sources if s.exists()]
    if not present:
        print(f"skip {name}: {sources[0].relative_to(root)} is not on this branch")
        continue
    where = " + ".join(str(s.relative_to(root)) for s in present)
    # The unit tests at the bottom use made-up values in capitals too.
    read = set()
    for s in present:
        code = s.read_text().split("#[cfg(test)]", 1)[0]
        read |= set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', code))
    variables = template["Resources"][name]["Properties"]["Environment"]["Variables"]
    for var in variables:
        if var not in read:
            problems.append(f"{name} sets {var}, which {where} never reads")
    for var in sorted(read):
        if f"`{var}`" not in docs:
            problems.append(f"{where} reads {var}, not documented in docs/configuration.md")
    print(f"{name}: {len(variables)} variables set, {len(read)} read by {where}")
# Every template parameter is in the configuration reference.
for parameter in template.get("Parameters", {}):
    if f"`{parameter}`" not in docs:
        problems.append(f"template parameter {parameter} is not documented in docs/configuration.md")

for p in problems:
    print("MISMATCH:", p)
sys.exit(1 if problems else 0)
