"""Requests through the distribution and to the API, as CloudFront and API Gateway make
them (docs/design.md, "Hard facts about the platform" and "Behaviours our stand-ins
must reproduce", with their sources):

- CloudFront: the behavior for the viewer path, its origin-request association's
  version run on an origin-request event (`Records[0].cf`), the origin's custom headers
  in `origin.custom.customHeaders` and sent to the origin, the origin path prepended;
  Host is the origin's domain (the template's AllViewerExceptHostHeader policy); while a
  change is InProgress an edge may run any config set since the last Deployed.
- HTTP API (payload 2.0): the route (`$default` or `METHOD /path`); a CUSTOM route's
  Lambda authorizer with identity sources answers 401 itself when one is missing;
  `rawPath` percent-decoded; simple responses: `isAuthorized:false` -> 403; the
  authorizer's own failure -> 500. The example backend's answer is its inline code's
  (200, JSON); integrations are not run otherwise.
"""
import json
import time
import urllib.parse
import uuid

from . import cloudfront as cf


class DataPlane:
    def __init__(self, cloudfront, edge_runner, zips, admin, functions):
        self.cf = cloudfront
        self.edges = edge_runner
        self.zips = zips  # callable: version ARN -> zip bytes
        self.admin = admin
        self.functions = functions  # function ARN (unqualified) -> lambdas.Function
        self.apis = {}
        self.target_origins = None  # origins.TargetOrigins: REST APIs, WAF, AppSync
        # (function ARN, service principal, source ARN) -> bool: Lambda's check of the
        # function's resource policy (gateway.Gateway.invoke_allowed); set by World.
        self.invoke_allowed = None

    # ------------------------------------------------------------ CloudFront
    def viewer(self, host, method, path, query, headers, body):
        d = self.cf.by_domain(host)
        if d is None:
            return 404, {}, b"no such distribution"
        config = self.cf.serving_config(d)
        behavior = cf.behavior_for(config, path)
        o = cf.origin(config, cf._text(behavior, "TargetOriginId"))
        request = {
            "clientIp": "203.0.113.10",
            "method": method,
            "uri": path,
            "querystring": query,
            "headers": {},
            "origin": {"custom": {
                "customHeaders": o["customHeaders"], "domainName": o["domainName"], "keepaliveTimeout": 5,
                "path": o["path"], "port": 443, "protocol": "https", "readTimeout": 30, "sslProtocols": ["TLSv1.2"]}},
        }
        for k, v in headers.items():
            if k.lower() in ("host", "connection", "content-length", "transfer-encoding"):
                continue
            request["headers"].setdefault(k.lower(), []).append({"key": k, "value": v})
        request["headers"]["host"] = [{"key": "Host", "value": o["domainName"]}]
        arn = cf.origin_request_function(behavior)
        if arn:
            event = {"Records": [{"cf": {"config": {
                "distributionDomainName": host, "distributionId": d.id, "eventType": "origin-request",
                "requestId": uuid.uuid4().hex}, "request": request}}]}
            try:
                result = self.edges.run(arn, self.zips(arn), event)
            except Exception as e:  # noqa: BLE001 - a failing function is CloudFront's 502/503
                return 503, {"x-cache": "LambdaExecutionError from cloudfront"}, str(e).encode()
            if "status" in result and "uri" not in result:
                return int(result["status"]), {}, (result.get("body") or "").encode()
            request = result
        out_headers = {}
        for k, vs in request["headers"].items():
            out_headers[vs[0]["key"]] = ",".join(v["value"] for v in vs)
        for k, vs in request["origin"]["custom"].get("customHeaders", {}).items():
            out_headers[vs[0]["key"]] = vs[0]["value"]
        origin_host = request["origin"]["custom"]["domainName"]
        full = request["origin"]["custom"].get("path", "") + request["uri"]
        return self.api(origin_host, request["method"], full, request.get("querystring", ""), out_headers, body)

    # ------------------------------------------------------------ API Gateway
    def _api(self, api_id, region):
        now = time.monotonic()
        cached = self.apis.get(api_id)
        if cached and now - cached[0] < 0.2:
            return cached[1]
        v2 = self.admin("apigatewayv2", region)
        routes = v2.get_routes(ApiId=api_id)["Items"]
        auths = {a["AuthorizerId"]: a for a in v2.get_authorizers(ApiId=api_id)["Items"]}
        integrations = {i["IntegrationId"]: i for i in v2.get_integrations(ApiId=api_id)["Items"]}
        self.apis[api_id] = (now, (routes, auths, integrations))
        return routes, auths, integrations

    def _may_invoke(self, function_arn, source_arn):
        return self.invoke_allowed is None or self.invoke_allowed(function_arn, "apigateway.amazonaws.com", source_arn)

    def api(self, host, method, path, query, headers, body):
        if self.target_origins is not None:
            answer = self.target_origins.handle(host, method, path, query, headers, body)
            if answer is not None:
                return answer
        api_id, _, region = host.split(".")[:3]
        try:
            routes, auths, integrations = self._api(api_id, region)
        except Exception as e:  # noqa: BLE001 - no such API: API Gateway's 404
            print(f"local API Gateway: {host}: {e}", flush=True)
            return 404, {}, b'{"message":"Not Found"}'
        lower = {k.lower(): v for k, v in headers.items()}
        route = next((r for r in routes if r["RouteKey"] == f"{method} {path}"), None) or \
            next((r for r in routes if r["RouteKey"] == "$default"), None)
        if route is None:
            return 404, {}, b'{"message":"Not Found"}'
        context = None
        if route.get("AuthorizationType") == "CUSTOM":
            a = auths[route["AuthorizerId"]]
            sources = []
            for s in a.get("IdentitySource", []):
                name = s.split("$request.header.", 1)[-1].lower()
                if name not in lower:
                    return 401, {"Content-Type": "application/json"}, b'{"message":"Unauthorized"}'
                sources.append(lower[name])
            raw_path = urllib.parse.unquote(path).split("?")[0]
            now = time.time()
            event = {
                "version": "2.0", "type": "REQUEST",
                "routeArn": f"arn:aws:execute-api:{region}:123456789012:{api_id}/$default/{method}{raw_path}",
                "identitySource": sources, "routeKey": route["RouteKey"], "rawPath": raw_path,
                "rawQueryString": query, "headers": lower,
                "requestContext": {
                    "accountId": "123456789012", "apiId": api_id, "domainName": host,
                    "domainPrefix": api_id, "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                                                     "sourceIp": "130.176.0.1", "userAgent": lower.get("user-agent", "")},
                    "requestId": uuid.uuid4().hex[:16], "routeKey": route["RouteKey"], "stage": "$default",
                    "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                    "timeEpoch": int(now * 1000)},
            }
            if query:
                event["queryStringParameters"] = {k: v for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)}
            fn_arn = a["AuthorizerUri"].split("/functions/", 1)[1].split("/invocations")[0]
            fn = self.functions(fn_arn)
            # API Gateway invokes the authorizer as apigateway.amazonaws.com from
            # API/authorizers/ID; without the function's permission: 500.
            source = f"arn:aws:execute-api:{region}:123456789012:{api_id}/authorizers/{a['AuthorizerId']}"
            if fn is None or not self._may_invoke(fn_arn, source):
                return 500, {}, b'{"message":"Internal Server Error"}'
            try:
                verdict = fn.invoke(event, timeout=10)
            except Exception:  # noqa: BLE001
                return 500, {}, b'{"message":"Internal Server Error"}'
            if not verdict or not verdict.get("isAuthorized"):
                return 403, {"Content-Type": "application/json"}, b'{"message":"Forbidden"}'
            context = verdict.get("context")
        # A Lambda proxy integration (the example backend): API Gateway invokes it from
        # API/STAGE/METHOD/PATH; without the function's permission: 500. Its answer is
        # the example's inline code's (below).
        integration = integrations.get(route.get("Target", "").split("integrations/", 1)[-1], {})
        uri = integration.get("IntegrationUri") or "" if integration.get("IntegrationType") == "AWS_PROXY" else ""
        if ":lambda:" in uri or ":function:" in uri:
            fn_arn = uri.split("/functions/", 1)[1].split("/invocations")[0] if "/functions/" in uri else uri
            if not self._may_invoke(fn_arn, f"arn:aws:execute-api:{region}:123456789012:{api_id}/$default/{method}{path}"):
                return 500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}'
        out = {"ok": True, "path": urllib.parse.unquote(path), "edgeseal": context}
        return 200, {"Content-Type": "application/json"}, json.dumps(out).encode()
