"""The origins of the rotation targets, deciding requests as the AWS service does, from
what moto holds (read through boto3, as AWS's own data plane reads its control plane).
moto serves the control planes (API Gateway usage plans and keys, WAFv2 web ACLs and
their associations, AppSync APIs and keys) but no data plane. The same facts, with the
same sources, as the Rust stand-ins of the demo and the rotator tests
(testkit/src/api_gateway/origin.rs, testkit/src/waf/, testkit/src/appsync.rs):

- **REST API stage, API key required** (`API.execute-api.REGION.amazonaws.com/STAGE/...`):
  a method with `apiKeyRequired` accepts a request only when its `x-api-key` header is
  the value of a key that exists, is enabled and is in a usage plan of the stage;
  otherwise `403 {"message":"Forbidden"}` (gateway response INVALID_API_KEY, "Gateway
  response types for API Gateway"; Stack Overflow 39061041 lists the three conditions).
  A path no resource matches gets `403 {"message":"Missing Authentication Token"}`
  (gateway response MISSING_AUTHENTICATION_TOKEN). A key change reaches API Gateway's
  nodes seconds late (moduspwnens/boa-chat#1 waits 10 s; Stack Overflow 42194561: results
  flap meanwhile): `API_KEY_NODES` nodes take requests in turn, node i seeing moto as it
  was `API_KEY_LAG * i / (nodes - 1)` seconds ago.
- **Regional WAF web ACL** associated with the stage (`AssociateWebACL` on the stage
  ARN): evaluated before API Gateway (WAF sits in front). Rules by priority, the first
  terminating match decides, else the default action; a block is WAF's default
  `403 Forbidden` (AWS WAF developer guide, "Customized web requests and responses").
  Statements: ByteMatch on a SingleHeader (names case-insensitive, text transformations
  NONE / LOWERCASE, positional constraints EXACTLY / STARTS_WITH / ENDS_WITH / CONTAINS),
  And / Or / Not; any other statement answers 500 and is recorded in `refused`, never
  guessed at. A change "might be in effect in one area where the web ACL is used and
  not in another" for "a few seconds to a number of minutes" (UpdateWebACL, WAFV2 API
  reference, "Temporary inconsistencies during updates"): `WAF_AREAS` areas, lagging
  as the API Gateway nodes do, up to `WAF_LAG`.
- **AppSync, API_KEY authorization** (`API.appsync-api.REGION.amazonaws.com/graphql`):
  a key is accepted only while ListApiKeys lists it with `expires` in the future
  (expired keys stay listed until deleted: ListApiKeys reference); a missing or refused
  key gets 401 `UnauthorizedException` (aws-amplify/amplify-cli#3416, amplify-js#4373:
  the body). A valid request gets 200 with `data` (the rotator's test query is
  `{ __typename }`). Whether a new key works the instant it is created is not
  documented; AppSync is modelled accepting it at once (the rotator's testSecret retries
  3 times, 2 s apart, for the case it does not).
"""
import json
import threading
import time

API_KEY_NODES = 3
API_KEY_LAG = 4.0  # seconds, slowest node (the demo's figure: demo/src/scenarios/api_key.rs)
WAF_AREAS = 3
WAF_LAG = 4.0
POLL = 0.3  # how often the data plane re-reads moto


class Lagged:
    """Snapshots of `read()`; node i of n sees the newest one at least `lag * i / (n-1)`
    seconds old. Requests go to the nodes in turn."""

    def __init__(self, read, nodes, lag):
        self.read = read
        self.nodes = nodes
        self.lag = lag
        self.history = []  # (monotonic time, state)
        self.turn = 0
        self.lock = threading.Lock()

    def state(self):
        now = time.monotonic()
        with self.lock:
            if not self.history or now - self.history[-1][0] >= POLL:
                self.history.append((now, self.read()))
                keep = now - self.lag - 2 * POLL
                while len(self.history) > 1 and self.history[1][0] < keep:
                    self.history.pop(0)
            node = self.turn % self.nodes
            self.turn += 1
            delay = self.lag * node / (self.nodes - 1) if self.nodes > 1 else 0
            seen = self.history[0][1]
            for t, s in self.history:
                if t <= now - delay:
                    seen = s
            return seen


FORBIDDEN = (403, {"Content-Type": "application/json", "x-amzn-ErrorType": "ForbiddenException"},
             b'{"message":"Forbidden"}')
MISSING_TOKEN = (403, {"Content-Type": "application/json", "x-amzn-ErrorType": "MissingAuthenticationTokenException"},
                 b'{"message":"Missing Authentication Token"}')
WAF_BLOCK = (403, {"Content-Type": "text/html"},
             b"<html><head><title>403 Forbidden</title></head><body><center><h1>403 Forbidden</h1></center></body></html>")
APPSYNC_UNAUTHORIZED = (401, {"Content-Type": "application/json", "x-amzn-ErrorType": "UnauthorizedException"},
                        json.dumps({"errors": [{"errorType": "UnauthorizedException",
                                                "message": "You are not authorized to make this call."}]}).encode())


class TargetOrigins:
    def __init__(self, admin):
        self.admin = admin  # admin(service, region) -> boto3 client on moto
        self.rest_ids = {}  # api id -> bool (a REST API, not an HTTP API)
        self.keys = {}  # (api, stage, region) -> Lagged
        self.acls = {}  # (api, stage, region) -> Lagged
        self.appsync = {}  # (api, region) -> Lagged
        self.refused = []  # WAF statements not evaluated
        self.lock = threading.Lock()

    def reset(self):
        with self.lock:
            self.rest_ids.clear()
            self.keys.clear()
            self.acls.clear()
            self.appsync.clear()
            self.refused.clear()

    # ------------------------------------------------------------ dispatch
    def handle(self, host, method, path, query, headers, body):
        """The answer, or None when `host` is no origin of these (an HTTP API)."""
        labels = host.split(".")
        if len(labels) < 4:
            return None
        api, service, region = labels[0], labels[1], labels[2]
        if service == "appsync-api":
            return self.graphql(api, region, method, path, headers, body)
        if service == "execute-api" and self._is_rest(api, region):
            return self.rest(api, region, method, path, headers)
        return None

    def _is_rest(self, api, region):
        with self.lock:
            if api in self.rest_ids:
                return self.rest_ids[api]
        try:
            self.admin("apigateway", region).get_rest_api(restApiId=api)
            rest = True
        except Exception:  # noqa: BLE001 - NotFound: not a REST API
            rest = False
        with self.lock:
            self.rest_ids[api] = rest
        return rest

    def fix_moto_answer(self, service, region, method, path, status, out):
        """moto's GetGraphqlApi names the placeholder endpoint `http://graphql.uri`;
        AppSync names the API's own, `https://API.appsync-api.REGION.amazonaws.com/graphql`
        (GetGraphqlApi reference, `uris`). The rotator's testSecret posts there."""
        parts = [p for p in path.split("/") if p]
        if service != "appsync" or method != "GET" or status != 200 or len(parts) != 3 or parts[:2] != ["v1", "apis"]:
            return out
        data = json.loads(out or b"{}")
        api = data.get("graphqlApi", {})
        if api.get("uris", {}).get("GRAPHQL") == "http://graphql.uri":
            api["uris"]["GRAPHQL"] = f"https://{parts[2]}.appsync-api.{region}.amazonaws.com/graphql"
        return json.dumps(data).encode()

    # ------------------------------------------------------------ REST API + WAF
    def _read_keys(self, api, stage, region):
        gw = self.admin("apigateway", region)
        plans = [p["id"] for p in gw.get_usage_plans(limit=500)["items"]
                 if any(s.get("apiId") == api and s.get("stage") == stage for s in p.get("apiStages", []))]
        linked = set()
        for plan in plans:
            linked.update(k["id"] for k in gw.get_usage_plan_keys(usagePlanId=plan, limit=500)["items"])
        return {k["value"]: k["id"] in linked
                for k in gw.get_api_keys(includeValues=True, limit=500)["items"] if k.get("enabled")}

    def _read_acl(self, api, stage, region):
        arn = f"arn:aws:apigateway:{region}::/restapis/{api}/stages/{stage}"
        found = self.admin("wafv2", region).get_web_acl_for_resource(ResourceArn=arn).get("WebACL")
        return found

    def _lagged(self, table, key, make):
        with self.lock:
            if key not in table:
                table[key] = make()
            return table[key]

    def rest(self, api, region, method, path, headers):
        parts = [p for p in path.split("/") if p]
        if not parts:
            return MISSING_TOKEN
        stage, resource_path = parts[0], "/" + "/".join(parts[1:])
        lower = {k.lower(): v for k, v in headers.items()}
        acl = self._lagged(self.acls, (api, stage, region),
                           lambda: Lagged(lambda: self._read_acl(api, stage, region), WAF_AREAS, WAF_LAG)).state()
        if acl is not None:
            verdict = self._waf(acl, lower)
            if verdict == "error":
                return 500, {}, b"local WAF: a statement it does not evaluate (see refused)"
            if verdict == "block":
                return WAF_BLOCK
        gw = self.admin("apigateway", region)
        resources = gw.get_resources(restApiId=api, limit=500)["items"]
        resource = next((r for r in resources if r["path"] == resource_path), None)
        if resource is None:
            resource = next((r for r in resources if r["path"].endswith("{proxy+}")
                             and resource_path.startswith(r["path"][: -len("{proxy+}")])), None)
        methods = (resource or {}).get("resourceMethods", {})
        http_method = method if method in methods else ("ANY" if "ANY" in methods else None)
        if http_method is None:
            return MISSING_TOKEN
        m = gw.get_method(restApiId=api, resourceId=resource["id"], httpMethod=http_method)
        if m.get("apiKeyRequired"):
            keys = self._lagged(self.keys, (api, stage, region),
                                lambda: Lagged(lambda: self._read_keys(api, stage, region),
                                               API_KEY_NODES, API_KEY_LAG)).state()
            presented = lower.get("x-api-key")
            if presented is None or not keys.get(presented):
                return FORBIDDEN
        out = {"ok": True, "api": api, "stage": stage, "path": resource_path}
        return 200, {"Content-Type": "application/json"}, json.dumps(out).encode()

    def _waf(self, acl, headers):
        try:
            for rule in sorted(acl.get("Rules", []), key=lambda r: r["Priority"]):
                if self._matches(rule["Statement"], headers):
                    action = rule.get("Action", {})
                    if "Allow" in action:
                        return "allow"
                    if "Block" in action:
                        return "block"
                    # Count and the others do not terminate: go on.
            return "allow" if "Allow" in acl.get("DefaultAction", {}) else "block"
        except NotImplementedError as e:
            with self.lock:
                self.refused.append(str(e))
            return "error"

    def _matches(self, st, headers):
        if "ByteMatchStatement" in st:
            b = st["ByteMatchStatement"]
            field = b["FieldToMatch"]
            if list(field) != ["SingleHeader"]:
                raise NotImplementedError(f"FieldToMatch {list(field)}")
            value = headers.get(field["SingleHeader"]["Name"].lower())
            if value is None:
                return False  # a missing header matches nothing
            for t in b.get("TextTransformations", []):
                if t["Type"] == "LOWERCASE":
                    value = value.lower()
                elif t["Type"] != "NONE":
                    raise NotImplementedError(f"TextTransformation {t['Type']}")
            search = b["SearchString"]
            search = search.decode() if isinstance(search, bytes) else search
            pos = b["PositionalConstraint"]
            if pos == "EXACTLY":
                return value == search
            if pos == "STARTS_WITH":
                return value.startswith(search)
            if pos == "ENDS_WITH":
                return value.endswith(search)
            if pos == "CONTAINS":
                return search in value
            raise NotImplementedError(f"PositionalConstraint {pos}")
        if "NotStatement" in st:
            return not self._matches(st["NotStatement"]["Statement"], headers)
        if "AndStatement" in st:
            return all(self._matches(s, headers) for s in st["AndStatement"]["Statements"])
        if "OrStatement" in st:
            return any(self._matches(s, headers) for s in st["OrStatement"]["Statements"])
        raise NotImplementedError(f"statement {list(st)}")

    # ------------------------------------------------------------ AppSync
    def _read_appsync_keys(self, api, region):
        keys = {}
        client = self.admin("appsync", region)
        token = None
        while True:
            page = client.list_api_keys(apiId=api, **({"nextToken": token} if token else {}))
            for k in page.get("apiKeys", []):
                keys[k["id"]] = k.get("expires", 0)
            token = page.get("nextToken")
            if not token:
                return keys

    def graphql(self, api, region, method, path, headers, body):
        if path.rstrip("/") != "/graphql":
            return 404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}'
        lower = {k.lower(): v for k, v in headers.items()}
        keys = self._lagged(self.appsync, (api, region),
                            lambda: Lagged(lambda: self._read_appsync_keys(api, region), 1, 0)).state()
        presented = lower.get("x-api-key")
        if presented is None or keys.get(presented, 0) <= time.time():
            return APPSYNC_UNAUTHORIZED
        try:
            query = json.loads(body or b"{}").get("query", "")
        except ValueError:
            return 400, {"Content-Type": "application/json"}, b'{"errors":[{"message":"Invalid JSON"}]}'
        if method != "POST" or not query:
            return 400, {"Content-Type": "application/json"}, b'{"errors":[{"message":"No query"}]}'
        return 200, {"Content-Type": "application/json"}, b'{"data":{"__typename":"Query"}}'
