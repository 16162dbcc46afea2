"""The AWS endpoints of the run, on 127.0.0.1:443 of the run's own network namespace.

Inside the namespace, /etc/hosts sends the real AWS host names (secretsmanager.REGION.
amazonaws.com, cloudfront.amazonaws.com, API.execute-api.REGION.amazonaws.com,
dID.cloudfront.net, ...) here, and the system trust store holds the run's CA, so the
functions and the CLI use their SDK's default endpoints, unchanged. By host:
- `cloudfront.amazonaws.com`: IAM, then the CloudFront stand-in (cloudfront.py);
- `*.cloudfront.net`: a viewer request through the distribution (dataplane.py);
- `*.execute-api.*`: a request to the API (dataplane.py);
- every other AWS host: IAM, then moto server (plain HTTP on loopback).
"""
import base64
import datetime
import re
import hashlib
import http.client
import json
import os
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import iam


def make_ca_and_cert(directory, hosts):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edgeseal local stack CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {n: os.path.join(directory, n) for n in ("ca.pem", "cert.pem", "key.pem")}
    with open(paths["ca.pem"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["cert.pem"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["key.pem"], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


# The KMS action Secrets Manager calls on the caller's behalf, per secret operation, when
# the secret uses a customer-managed key (Secrets Manager User Guide, "Secret encryption
# and decryption").
SECRET_KMS_ACTIONS = {
    "secretsmanager:GetSecretValue": "kms:Decrypt",
    "secretsmanager:PutSecretValue": "kms:GenerateDataKey",
}
# The User-Agent of the rotator's origin test (rotator/src/origin.rs).
ROTATOR_ORIGIN_TEST = "edgeseal-rotator/origin-test"
SECRETS_MANAGER_CANNOT_INVOKE = ("Secrets Manager cannot invoke the specified Lambda function. Ensure that the "
                                 "function policy grants access to the principal secretsmanager.amazonaws.com.")


class Gateway:
    def __init__(self, moto_port, cloudfront, dataplane, evaluator, admin):
        self.moto_port = moto_port
        self.cloudfront = cloudfront
        self.dataplane = dataplane
        self.evaluator = evaluator
        self.admin = admin  # admin(service, region) -> boto3 client on moto
        self.principals = {}  # access key id -> (principal ARN, name, [policies])
        self.zips = {}  # CodeSha256 (base64) -> zip bytes
        self.denied = []  # (principal, action, resource)
        self.unmapped = []
        self.calls = []  # (principal name, action, resource, decision)
        self.on_rotate_secret = None  # (secret ARN, token, region) after a RotateSecret
        self.rotation_config = None  # secret ARN -> (function ARN, moto rotation rules) or None
        self.lock = threading.Lock()
        self.secret_keys = {}  # secret ARN -> customer-managed KMS key ARN, or None
        self.origin_tests = 0  # requests from the rotator's origin test (ROTATOR_ORIGIN_TEST)

    def register(self, access_key, principal_arn, name, policies):
        self.principals[access_key] = (principal_arn, name, policies)

    def remember_zip(self, data):
        sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
        self.zips[sha] = data
        return sha

    def secret_arn(self, region):
        def resolve(sid):
            if sid.startswith("arn:") and len(sid.split(":")[-1].split("-")[-1]) == 6:
                return sid
            try:
                return self.admin("secretsmanager", region).describe_secret(SecretId=sid)["ARN"]
            except Exception:  # noqa: BLE001 - a secret that does not exist: IAM still judges the name
                return sid if sid.startswith("arn:") else f"arn:aws:secretsmanager:{region}:{iam.ACCOUNT}:secret:{sid}"
        return resolve

    # ------------------------------------------------------------ one request
    def handle(self, method, host, path, query, headers, body):
        try:
            return self._handle(method, host, path, query, headers, body)
        except ValueError as e:
            # The evaluator could not decide (a policy or request it cannot parse): fail
            # closed, and fail the path (as an unmapped call does).
            with self.lock:
                self.unmapped.append(("evaluator", host, method, f"{path}: {e}"))
            return 500, {"Content-Type": "text/plain"}, f"local stack: IAM evaluation failed: {e}".encode()

    def _handle(self, method, host, path, query, headers, body):
        host = host.split(":")[0].lower()
        if host.endswith(".cloudfront.net"):
            return self.dataplane.viewer(host, method, path, query, headers, body)
        if ".execute-api." in host or ".appsync-api." in host:
            if any(k.lower() == "user-agent" and v == ROTATOR_ORIGIN_TEST for k, v in headers.items()):
                with self.lock:
                    self.origin_tests += 1
            return self.dataplane.api(host, method, path, query, headers, body)
        labels = host.split(".")
        service = labels[0]
        region = labels[1] if len(labels) == 4 else "us-east-1"
        lower = {k.lower(): v for k, v in headers.items()}  # hyper sends lowercase names
        auth = lower.get("authorization", "")
        scope = ""
        if "Credential=" in auth:
            scope = auth.split("Credential=", 1)[1].split(",")[0]
        akid = scope.split("/")[0] if scope else ""
        if scope:
            service = scope.split("/")[3] if len(scope.split("/")) > 3 else service
            region = scope.split("/")[2]
        if service == "execute-api":
            service = "apigateway"
        if akid in self.principals:
            denied = self._authorize(akid, service, region, method, path, query, headers, body)
            if denied:
                return denied
        if service == "cloudfront":
            return self.cloudfront.handle(method, path, headers, body, query)
        target = lower.get("x-amz-target", "")
        if target == "secretsmanager.RotateSecret":
            refused = self._secrets_manager_may_invoke(body, region)
            if refused:
                return refused
        status, out_headers, out = self._moto(method, host, path, query, headers, body)
        if self.dataplane.target_origins is not None:
            out = self.dataplane.target_origins.fix_moto_answer(service, region, method, path, status, out)
        if target == "secretsmanager.RotateSecret" and status == 200 and self.on_rotate_secret:
            # Secrets Manager then invokes the rotation function; moto cannot.
            answer = json.loads(out or b"{}")
            self.on_rotate_secret(answer.get("ARN"), answer.get("VersionId"), region)
        if service == "lambda" and method == "PUT" and path.endswith("/code") and status == 200:
            z = json.loads(body or b"{}").get("ZipFile")
            if z:
                self.remember_zip(base64.b64decode(z))
        return status, out_headers, out

    def _authorize(self, akid, service, region, method, path, query, headers, body):
        principal, name, policies = self.principals[akid]
        mapped = iam.request_action(service, region, method, path, query, headers, body, self.secret_arn(region))
        if mapped is None:
            with self.lock:
                self.unmapped.append((name, service, method, path))
            return iam.access_denied(service, principal, f"{service}:{method}{path}", "unmapped call")
        action, resources, context = mapped
        if resources is None:
            return None
        decision = self.evaluator.decide(principal, policies, action, resources, context)
        with self.lock:
            self.calls.append((name, action, resources[0], decision))
        if decision != "Allow":
            with self.lock:
                self.denied.append((name, action, resources[0]))
            return iam.access_denied(service, principal, action, resources[0])
        if action == "cloudfront:UpdateDistribution":
            return self._edge_association_grants(principal, name, policies, path, body)
        if action in SECRET_KMS_ACTIONS:
            return self._secret_kms_grant(principal, name, policies, action, resources[0], region)
        if action == "secretsmanager:RotateSecret":
            return self._rotation_function_grant(principal, name, policies, body, region)
        return None

    def _decide(self, principal, name, policies, action, resource, context):
        decision = self.evaluator.decide(principal, policies, action, [resource], context)
        with self.lock:
            self.calls.append((name, action, resource, decision))
            if decision != "Allow":
                self.denied.append((name, action, resource))
        return decision == "Allow"

    def secret_kms_key(self, secret_arn, region):
        """The customer-managed KMS key that encrypts the secret, or None for the AWS
        managed key aws/secretsmanager (DescribeSecret's KmsKeyId: absent, or that
        alias, for the managed key)."""
        if secret_arn not in self.secret_keys:
            key = None
            try:
                given = self.admin("secretsmanager", region).describe_secret(SecretId=secret_arn).get("KmsKeyId")
            except Exception:  # noqa: BLE001 - no such secret: Secrets Manager answers that itself
                given = None
            if given and given not in ("alias/aws/secretsmanager",):
                meta = self.admin("kms", region).describe_key(KeyId=given)["KeyMetadata"]
                key = meta["Arn"] if meta.get("KeyManager", "CUSTOMER") == "CUSTOMER" else None
            self.secret_keys[secret_arn] = key
        return self.secret_keys[secret_arn]

    def _secret_kms_grant(self, principal, name, policies, action, secret_arn, region):
        """Secrets Manager calls KMS with the caller's permissions when the secret uses a
        customer-managed key (Secrets Manager User Guide, "Secret encryption and
        decryption": GetSecretValue decrypts the version's data key, kms:Decrypt; a
        new value is encrypted under a new data key, kms:GenerateDataKey), through
        Secrets Manager (kms:ViaService secretsmanager.REGION.amazonaws.com) and with
        the encryption context SecretARN / SecretVersionId. moto's Secrets Manager calls
        no KMS, so the call KMS would authorize is authorized here. A refusal is
        Secrets Manager's AccessDeniedException "Access to KMS is not allowed" (status
        400, as quoted in aws-samples/aws-secrets-manager-rotation-lambdas#53 and
        external-secrets/external-secrets#390)."""
        key = self.secret_kms_key(secret_arn, region)
        if key is None:
            return None
        kms_action = SECRET_KMS_ACTIONS[action]
        context = {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com",
                   "kms:CallerAccount": iam.ACCOUNT,
                   "kms:EncryptionContext:SecretARN": secret_arn}
        if self._decide(principal, name, policies, kms_action, key, context):
            return None
        return iam.access_denied("secretsmanager", principal, kms_action, key, msg="Access to KMS is not allowed")

    def _rotation_function_grant(self, principal, name, policies, body, region):
        """RotateSecret also needs lambda:InvokeFunction on the rotation function
        (RotateSecret API reference, "Required permissions")."""
        data = json.loads(body or b"{}")
        function = data.get("RotationLambdaARN")
        if not function and self.rotation_config:
            configured = self.rotation_config(self.secret_arn(region)(data.get("SecretId", "")))
            function = configured[0] if configured else None
        if not function:
            return None
        if self._decide(principal, name, policies, "lambda:InvokeFunction", function, {}):
            return None
        return iam.access_denied("secretsmanager", principal, "lambda:InvokeFunction", function)

    def _secrets_manager_may_invoke(self, body, region):
        """Secrets Manager checks, when a rotation function is set or a rotation starts,
        that the function's resource policy lets secretsmanager.amazonaws.com invoke it
        (Secrets Manager User Guide, "Troubleshoot rotation": "access denied" when
        configuring rotation); it answers AccessDeniedException otherwise."""
        data = json.loads(body or b"{}")
        function = data.get("RotationLambdaARN")
        if not function:
            return None
        secret = self.secret_arn(region)(data.get("SecretId", ""))
        if self.invoke_allowed(function, "secretsmanager.amazonaws.com", secret):
            return None
        return iam.access_denied("secretsmanager", "secretsmanager.amazonaws.com", "lambda:InvokeFunction", function,
                                 msg=SECRETS_MANAGER_CANNOT_INVOKE)

    def invoke_allowed(self, function_arn, service_principal, source_arn, source_account=iam.ACCOUNT):
        """Lambda's check of an invocation by an AWS service: the function's
        resource-based policy must allow `service_principal` lambda:InvokeFunction, with
        its conditions on aws:SourceArn / aws:SourceAccount (Lambda Developer Guide,
        "Viewing resource-based IAM policies in Lambda" and "Granting function access to
        AWS services"). Without a statement that allows it, Lambda refuses the call."""
        region = function_arn.split(":")[3]
        unqualified = ":".join(function_arn.split(":")[:7])
        try:
            policy = json.loads(self.admin("lambda", region).get_policy(FunctionName=unqualified)["Policy"])
            statements = policy.get("Statement", [])
        except Exception:  # noqa: BLE001 - ResourceNotFoundException: no resource policy at all
            statements = []
        # moto keeps AddPermission's FunctionName in the statement; a policy document
        # has only these elements.
        keep = ("Sid", "Effect", "Principal", "Action", "Resource", "Condition")
        doc = {"Version": "2012-10-17", "Statement": [{k: st[k] for k in keep if k in st} for st in statements]}
        decision = "DefaultDeny"
        if statements:
            try:
                decision = self.evaluator.decide(
                    service_principal, [{"name": "function-policy", "document": doc, "resource": unqualified}],
                    "lambda:InvokeFunction", [unqualified],
                    {"aws:SourceArn": source_arn, "aws:SourceAccount": source_account})
            except ValueError as e:  # fail closed, and fail the path
                with self.lock:
                    self.unmapped.append(("evaluator", service_principal, "invoke", f"{unqualified}: {e}"))
        with self.lock:
            self.calls.append((service_principal, "lambda:InvokeFunction", unqualified, decision))
            if decision != "Allow":
                self.denied.append((service_principal, "lambda:InvokeFunction", unqualified))
        return decision == "Allow"

    def _edge_association_grants(self, principal, name, policies, path, body):
        """Associating a Lambda@Edge version needs lambda:GetFunction and
        lambda:EnableReplication* on that version, removing one lambda:DisableReplication*
        (CloudFront Developer Guide, "Set up IAM permissions and roles for Lambda@Edge");
        CloudFront checks them with the caller's permissions."""
        dist_id = [p for p in path.split("/") if p][2]
        d = self.cloudfront.dists.get(dist_id)
        if d is None:
            return None
        before = {e.text for e in d.config.iter() if e.tag.endswith("LambdaFunctionARN")}
        after = set(re.findall(rb"<LambdaFunctionARN>([^<]+)</LambdaFunctionARN>", body or b""))
        after = {a.decode() for a in after}
        needed = [(a, arn) for arn in sorted(after - before) for a in ("lambda:GetFunction", "lambda:EnableReplication")]
        needed += [("lambda:DisableReplication", arn) for arn in sorted(before - after)]
        for action, arn in needed:
            decision = self.evaluator.decide(principal, policies, action, [arn], {})
            with self.lock:
                self.calls.append((name, action, arn, decision))
            if decision != "Allow":
                with self.lock:
                    self.denied.append((name, action, arn))
                return iam.access_denied("cloudfront", principal, action, arn)
        return None

    def _moto(self, method, host, path, query, headers, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.moto_port, timeout=60)
        fwd = {k: v for k, v in headers.items() if k.lower() not in ("connection", "transfer-encoding", "content-length")}
        fwd["Content-Length"] = str(len(body or b""))
        conn.request(method, path + ("?" + query if query else ""), body=body or b"", headers=fwd)
        r = conn.getresponse()
        data = r.read()
        out = {k: v for k, v in r.getheaders() if k.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date")}
        conn.close()
        return r.status, out, data

    # ------------------------------------------------------------ the server
    def serve(self, cert, key, port=443):
        gw = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _any(self):
                body = self._body()
                url = urllib.parse.urlsplit(self.path)
                headers = {k: v for k, v in self.headers.items()}
                try:
                    status, h, out = gw.handle(self.command, self.headers.get("Host", ""), url.path, url.query, headers, body)
                except Exception as e:  # noqa: BLE001 - a stand-in's bug is a 500, as a service fault would be
                    import traceback
                    traceback.print_exc()
                    status, h, out = 500, {"Content-Type": "text/plain"}, f"local stack error: {e}".encode()
                self.send_response(status)
                for k, v in h.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server
