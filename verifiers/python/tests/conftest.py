"""Test support: Secrets Manager on moto through boto3, the real edge function (run by
node: edge-signer's index.mjs + signer.wasm as scripts/build-edge assembles them)
signing CloudFront origin requests, and requests sent with the Host CloudFront sends."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[3]
EDGE_ASSETS = Path(os.environ.get("EDGESEAL_EDGE_ASSETS", ROOT / "target" / "edge-assets"))
HOST = "app.example.com"
_counter = iter(range(1, 1_000_000))


@pytest.fixture(scope="session")
def sm():
    endpoint = os.environ.get("EDGESEAL_MOTO_URL")
    if not endpoint:
        pytest.fail('EDGESEAL_MOTO_URL is not set: eval "$(bash scripts/moto start)"')
    return boto3.client(
        "secretsmanager", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


def new_key():
    """A new edgeseal key (64 random bytes, as the rotator makes them) and its secret."""
    key = base64.b64encode(os.urandom(64)).decode()
    return key, json.dumps({"alg": "hmac-sha256", "key": key})


def create_secret(sm, tag):
    name = f"edgeseal-py-{tag}-{os.getpid()}-{time.time_ns()}-{next(_counter)}"
    key, secret = new_key()
    out = sm.create_secret(Name=name, SecretString=secret)
    return name, out["VersionId"], key


def put_pending(sm, name):
    """createSecret step: a new key as AWSPENDING."""
    key, secret = new_key()
    out = sm.put_secret_value(SecretId=name, SecretString=secret, VersionStages=["AWSPENDING"])
    return out["VersionId"], key


def promote(sm, name, to, frm):
    """finishSecret step: AWSCURRENT moves to `to`; moto, as AWS, labels `frm` AWSPREVIOUS."""
    sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=to, RemoveFromVersionId=frm
    )
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=to)


class Edge:
    """The real edge function, one node process signing for every packaged key."""

    def __init__(self):
        self._proc = subprocess.Popen(
            ["node", str(Path(__file__).with_name("edge_sign.mjs"))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )
        self._lock = threading.Lock()
        self._dirs = []

    def package(self, keyid, key, profile="raw"):
        """A function directory with config.json as the rotator writes it."""
        d = tempfile.mkdtemp(prefix="edgeseal-py-edge-")
        self._dirs.append(d)
        for name in ("index.mjs", "signer.wasm"):
            shutil.copy(EDGE_ASSETS / name, Path(d) / name)
        (Path(d) / "config.json").write_text(json.dumps(
            {"format": 1, "label": "edgeseal", "keyid": keyid, "key": key, "max_age_secs": 300,
             "profiles": {"default": profile}}
        ))
        return lambda path, query, now=None, **kw: self.sign(d, path, query, now, **kw)

    def sign(self, d, path, query, now=None, method="GET", body=None):
        """The edge's signature fields; `body` (bytes): bound with Content-Digest."""
        now = int(time.time()) if now is None else now
        request = {"dir": d, "path": path, "query": query, "now": now, "method": method}
        if body is not None:
            request["body"] = base64.b64encode(body).decode()
        with self._lock:
            self._proc.stdin.write(json.dumps(request) + "\n")
            line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the edge signer exited")
        return json.loads(line)

    def close(self):
        self._proc.stdin.close()
        self._proc.wait(timeout=10)
        for d in self._dirs:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def edge():
    e = Edge()
    yield e
    e.close()


def send(port, path, query, headers, method="GET", body=None, chunked=False):
    """GET http://127.0.0.1:port/path?query with Host: HOST (what CloudFront forwards);
    or `method` with `body`, framed by Content-Length, or chunked (in pieces)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    target = f"{path}?{query}" if query else path
    conn.putrequest(method, target, skip_host=True)
    conn.putheader("Host", HOST)
    for name, value in headers.items():
        conn.putheader(name, value)
    if body is not None and not chunked:
        conn.putheader("Content-Length", str(len(body)))
    if body is not None and chunked:
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        step = max(1, -(-len(body) // 4))
        for at in range(0, len(body), step):
            piece = body[at:at + step]
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
    else:
        conn.endheaders(body)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


class CountingSource:
    """Wraps a source: counts calls and fails on demand (a Secrets Manager outage)."""

    def __init__(self, inner):
        from edgeseal_verifier import SourceError

        self.inner, self.lists, self.gets, self.failing = inner, 0, 0, False
        self._error = SourceError

    def list_versions(self):
        self.lists += 1
        if self.failing:
            raise self._error("ListSecretVersionIds", "dispatch failure (connection refused)")
        return self.inner.list_versions()

    def get_value(self, version_id):
        self.gets += 1
        if self.failing:
            raise self._error("GetSecretValue", "dispatch failure (connection refused)")
        return self.inner.get_value(version_id)


class Lines:
    """Collects log and metric lines (as parsed JSON)."""

    def __init__(self):
        self.logs, self.metrics = [], []

    def log(self, line):
        self.logs.append(json.loads(line))

    def metric(self, line):
        self.metrics.append(json.loads(line))
