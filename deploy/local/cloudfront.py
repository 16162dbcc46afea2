"""CloudFront for the local runs: the control plane (the REST/XML API the rotator, the CLI
and the runner call) and the data plane (viewer requests through the edge function to
the origin).

Why not moto: moto 5.2 drops `LambdaFunctionAssociations` and accepts any `IfMatch`
(docs/design.md, "Facts measured on these machines"), and has no cache, origin request
or continuous deployment policies. This stand-in keeps what CloudFront keeps, as
`edgeseal_testkit::FakeCloudFront` does for the in-process tests (same sources):
- the config is stored as sent (XML, CloudFront API reference `DistributionConfig`),
  associations included; the ETag changes on every update and `UpdateDistribution`
  without the current ETag as `If-Match` fails `PreconditionFailed` (412) or
  `InvalidIfMatchVersion` (400) (API reference, UpdateDistribution, Errors);
- `Status` is `InProgress` for `deploy_delay` seconds after each change, and until then
  edges may serve any config set since the last `Deployed` (each request here picks one
  of them at random);
- cache, origin request and continuous deployment policies are resources of their own
  with their own actions and ARNs (Service Authorization Reference, CloudFront):
  `cache-policy/ID`, `origin-request-policy/ID`, `continuous-deployment-policy/ID`.
The CloudFormation resource `AWS::CloudFront::Distribution` is converted to the API's
shape (lists become `Quantity` + `Items`) as CloudFormation's handler does.
"""
import hashlib
import random
import threading
import time
import xml.etree.ElementTree as ET

NS = "http://cloudfront.amazonaws.com/doc/2020-05-31/"
ACCOUNT = "123456789012"

# CloudFormation list property -> (API item element name).
ITEM = {
    "Origins": "Origin",
    "CacheBehaviors": "CacheBehavior",
    "LambdaFunctionAssociations": "LambdaFunctionAssociation",
    "FunctionAssociations": "FunctionAssociation",
    "Aliases": "CNAME",
    "OriginSslProtocols": "SslProtocol",
    "CustomHeaders": "OriginCustomHeader",
    "Items": None,
}
RENAME = {"OriginSSLProtocols": "OriginSslProtocols", "OriginCustomHeaders": "CustomHeaders",
          "LambdaFunctionARN": "LambdaFunctionARN"}


def _el(tag, text=None):
    e = ET.Element(tag)
    if text is not None:
        e.text = str(text).lower() if isinstance(text, bool) else str(text)
    return e


def _cfn_to_xml(tag, value):
    tag = RENAME.get(tag, tag)
    if tag == "AllowedMethods":
        e = _el(tag)
        e.append(_el("Quantity", len(value)))
        items = _el("Items")
        for m in value:
            items.append(_el("Method", m))
        e.append(items)
        return e
    if isinstance(value, list):
        e = _el(tag)
        e.append(_el("Quantity", len(value)))
        if value:
            items = _el("Items")
            for v in value:
                items.append(_cfn_to_xml(ITEM.get(tag, "Item"), v))
            e.append(items)
        return e
    if isinstance(value, dict):
        e = _el(tag)
        for k, v in value.items():
            if k == "CachedMethods":
                continue
            e.append(_cfn_to_xml(k, v))
        if tag == "DefaultCacheBehavior" or tag == "CacheBehavior":
            am = e.find("AllowedMethods")
            if am is not None and "CachedMethods" in value:
                am.append(_cfn_to_xml("CachedMethods", value["CachedMethods"]))
                cm = am.find("CachedMethods")
                for m in cm.find("Items"):
                    m.tag = "Method"
        return e
    return _el(tag, value)


def from_cloudformation(cfn):
    """The API's DistributionConfig for CloudFormation's `DistributionConfig`."""
    cfn = dict(cfn)
    cfn.setdefault("CallerReference", "cfn-" + hashlib.sha256(repr(sorted(cfn.items())).encode()).hexdigest()[:16])
    for o in cfn.get("Origins", []):
        o.setdefault("OriginPath", "")
        if "CustomOriginConfig" in o:
            c = o["CustomOriginConfig"]
            c.setdefault("HTTPPort", 80)
            c.setdefault("HTTPSPort", 443)
    order = ["CallerReference", "Aliases", "DefaultRootObject", "Origins", "DefaultCacheBehavior",
             "CacheBehaviors", "Comment", "PriceClass", "Enabled", "HttpVersion"]
    root = _el("DistributionConfig")
    for k in order + [k for k in cfn if k not in order]:
        if k in cfn:
            root.append(_cfn_to_xml(k, cfn[k]))
    return root


def _strip_ns(e):
    for x in e.iter():
        if "}" in x.tag:
            x.tag = x.tag.split("}", 1)[1]
    return e


def _text(e, path, default=""):
    x = e.find(path)
    return x.text if x is not None and x.text is not None else default


class Distribution:
    def __init__(self, dist_id, config, deploy_delay):
        self.id = dist_id
        self.config = config
        self.generation = 1
        self.updated = time.monotonic()
        self.modified = time.time()
        self.live = [config]
        self.deploy_delay = deploy_delay
        self.tags = {}

    @property
    def etag(self):
        return f"E{self.generation:013X}"

    @property
    def domain(self):
        return f"d{self.id.lower()}.cloudfront.net"

    def deployed(self):
        done = time.monotonic() - self.updated >= self.deploy_delay
        if done:
            self.live = [self.config]
        return done


class CloudFront:
    def __init__(self, deploy_delay=3.0):
        self.lock = threading.Lock()
        self.dists = {}
        self.policies = {}  # (kind, id) -> XML text of the policy
        self.deploy_delay = deploy_delay
        self.calls = []
        self.on_create = None  # domain -> None: make the new domain resolvable

    # ------------------------------------------------------------ for the runner
    def create_from_cloudformation(self, cfn_config, tags=None):
        return self.create(from_cloudformation(cfn_config), tags)

    def create(self, config, tags=None):
        with self.lock:
            dist_id = "E" + "".join(random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(13))
            d = Distribution(dist_id, config, self.deploy_delay)
            d.tags = dict(tags or {})
            self.dists[dist_id] = d
        if self.on_create:
            self.on_create(d.domain)
        return {"Id": dist_id, "DomainName": d.domain, "ARN": self.arn(dist_id)}

    def arn(self, dist_id):
        return f"arn:aws:cloudfront::{ACCOUNT}:distribution/{dist_id}"

    def put_policy(self, kind, policy_id, xml_text):
        self.policies[(kind, policy_id)] = xml_text

    def by_domain(self, host):
        with self.lock:
            for d in self.dists.values():
                if d.domain == host:
                    return d
        return None

    def edit(self, dist_id, change):
        """The user's own change to a distribution (console / IaC): `change(config)`."""
        with self.lock:
            d = self.dists[dist_id]
            config = ET.fromstring(ET.tostring(d.config))
            change(config)
            self._set(d, config)

    def _set(self, d, config):
        d.deployed()
        d.config = config
        d.generation += 1
        d.updated = time.monotonic()
        d.modified = time.time()
        d.live.append(config)

    def serving_config(self, d):
        with self.lock:
            d.deployed()
            return random.choice(d.live)

    # ------------------------------------------------------------ the REST API
    def handle(self, method, path, headers, body, query=""):
        """(status, headers, body bytes) for one API call."""
        parts = [p for p in path.split("/") if p]
        if len(parts) < 2 or parts[0] != "2020-05-31":
            return self._error(404, "NotFound", f"no such operation {method} {path}")
        rest = parts[1:]
        with self.lock:
            if rest[0] == "distribution" and len(rest) == 1 and method == "POST":
                return self._create(body)
            if rest[0] == "distribution" and len(rest) >= 2:
                d = self.dists.get(rest[1])
                if d is None:
                    return self._error(404, "NoSuchDistribution", "The specified distribution does not exist.")
                if len(rest) == 2 and method == "GET":
                    return self._distribution(d, 200)
                if len(rest) == 3 and rest[2] == "config" and method == "GET":
                    return 200, {"ETag": d.etag, "Content-Type": "text/xml"}, self._xml(d.config)
                if len(rest) == 3 and rest[2] == "config" and method == "PUT":
                    return self._update(d, headers, body)
            if rest[0] == "distribution" and len(rest) == 1 and method == "GET":
                return self._list()
            if rest[0] == "tagging" and method == "GET":
                return self._tags(query)
            kinds = {"cache-policy": "CachePolicy", "origin-request-policy": "OriginRequestPolicy",
                     "continuous-deployment-policy": "ContinuousDeploymentPolicy"}
            if rest[0] in kinds and len(rest) == 2 and method == "GET":
                xml = self.policies.get((rest[0], rest[1]))
                if xml is None:
                    code = {"cache-policy": "NoSuchCachePolicy", "origin-request-policy": "NoSuchOriginRequestPolicy",
                            "continuous-deployment-policy": "NoSuchContinuousDeploymentPolicy"}[rest[0]]
                    return self._error(404, code, "The policy does not exist.")
                return 200, {"ETag": "E1POLICY", "Content-Type": "text/xml"}, xml.encode()
        return self._error(400, "InvalidArgument", f"unsupported {method} {path}")

    def _create(self, body):
        config = _strip_ns(ET.fromstring(body))
        dist_id = "E" + "".join(random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(13))
        d = Distribution(dist_id, config, self.deploy_delay)
        self.dists[dist_id] = d
        status, h, b = self._distribution(d, 201)
        h["Location"] = f"https://cloudfront.amazonaws.com/2020-05-31/distribution/{dist_id}"
        return status, h, b

    def _update(self, d, headers, body):
        if_match = {k.lower(): v for k, v in headers.items()}.get("if-match")
        if not if_match:
            return self._error(400, "InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.")
        if if_match != d.etag:
            return self._error(412, "PreconditionFailed", "The precondition given in one or more of the request header fields evaluated to false.")
        config = _strip_ns(ET.fromstring(body))
        self._set(d, config)
        return self._distribution(d, 200)

    def _distribution(self, d, status):
        deployed = d.deployed()
        root = ET.Element("Distribution", xmlns=NS)
        for tag, value in [("Id", d.id), ("ARN", self.arn(d.id)),
                           ("Status", "Deployed" if deployed else "InProgress"),
                           ("LastModifiedTime", time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(d.modified))),
                           ("InProgressInvalidationBatches", "0"), ("DomainName", d.domain)]:
            root.append(_el(tag, value))
        root.append(ET.fromstring(ET.tostring(d.config)))
        return status, {"ETag": d.etag, "Content-Type": "text/xml"}, ET.tostring(root)

    def _tags(self, query):
        """ListTagsForResource: CloudFormation tags what it creates with
        aws:cloudformation:stack-name, -stack-id and -logical-id (CloudFormation User
        Guide, "Resource tags")."""
        import urllib.parse
        arn = dict(urllib.parse.parse_qsl(query)).get("Resource", "")
        d = self.dists.get(arn.rsplit("/", 1)[-1])
        if d is None:
            return self._error(404, "NoSuchResource", "The specified resource does not exist.")
        root = ET.Element("Tags", xmlns=NS)
        items = ET.SubElement(root, "Items")
        for k, v in d.tags.items():
            tag = ET.SubElement(items, "Tag")
            tag.append(_el("Key", k))
            tag.append(_el("Value", v))
        return 200, {"Content-Type": "text/xml"}, ET.tostring(root)

    def _list(self):
        root = ET.Element("DistributionList", xmlns=NS)
        root.append(_el("Marker", ""))
        root.append(_el("MaxItems", 100))
        root.append(_el("IsTruncated", "false"))
        root.append(_el("Quantity", len(self.dists)))
        return 200, {"Content-Type": "text/xml"}, ET.tostring(root)

    def _xml(self, config):
        c = ET.fromstring(ET.tostring(config))
        c.set("xmlns", NS)
        return ET.tostring(c)

    @staticmethod
    def _error(status, code, message):
        body = (f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
                f"<Message>{message}</Message></Error><RequestId>local</RequestId></ErrorResponse>")
        return status, {"Content-Type": "text/xml"}, body.encode()


def behavior_for(config, uri):
    """The cache behavior a viewer path uses: the first path pattern that matches, else
    the default (CloudFront Developer Guide, "Path pattern")."""
    import fnmatch
    for b in config.findall("CacheBehaviors/Items/CacheBehavior"):
        if fnmatch.fnmatchcase(uri, _text(b, "PathPattern")) or fnmatch.fnmatchcase(uri.lstrip("/"), _text(b, "PathPattern").lstrip("/")):
            return b
    return config.find("DefaultCacheBehavior")


def origin_request_function(behavior):
    for a in behavior.findall("LambdaFunctionAssociations/Items/LambdaFunctionAssociation"):
        if _text(a, "EventType") == "origin-request":
            return _text(a, "LambdaFunctionARN")
    return None


def origin(config, origin_id):
    for o in config.findall("Origins/Items/Origin"):
        if _text(o, "Id") == origin_id:
            return {
                "domainName": _text(o, "DomainName"),
                "path": _text(o, "OriginPath"),
                "customHeaders": {
                    _text(h, "HeaderName").lower(): [{"key": _text(h, "HeaderName"), "value": _text(h, "HeaderValue")}]
                    for h in o.findall("CustomHeaders/Items/OriginCustomHeader")
                },
            }
    return None
