"""Lambda functions as the Lambda service runs them, on this machine.

- The code is unpacked at `/var/task` (LAMBDA_TASK_ROOT), in a mount namespace of the
  function's own (`unshare --mount` + a bind mount), so a path the template gives (e.g.
  `EDGE_ASSETS_DIR=/var/task/edge-assets`) means what it means in Lambda.
- The environment is the template's `Environment.Variables` as Lambda's
  GetFunctionConfiguration reports them, plus the variables Lambda itself defines for
  every function (Lambda Developer Guide, "Defined runtime environment variables"):
  region, function name/version/memory, log group/stream, `_HANDLER`,
  `LAMBDA_TASK_ROOT`, `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_LOG_FORMAT` (LoggingConfig),
  and the execution role's temporary credentials (an sts:AssumeRole of the function's
  role). Nothing else: no endpoint override (the AWS hosts resolve to this machine's
  gateway inside the run's network namespace, see gateway.py).
- Invocations go through the Lambda Runtime API (Lambda Developer Guide, "Using the
  Lambda runtime API for custom runtimes"): `GET /2018-06-01/runtime/invocation/next`,
  `POST .../invocation/{id}/response`, `.../error`, `/runtime/init/error`.
"""
import json
import os
import queue
import subprocess
import threading
import time
import uuid
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class InvokeError(Exception):
    pass


class RuntimeApi:
    def __init__(self, function_arn, timeout_secs):
        self.arn = function_arn
        self.timeout = timeout_secs
        self.pending = queue.Queue()
        self.waiting = {}
        self.init_error = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _reply(self, status, body=b"{}", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path.endswith("/runtime/invocation/next"):
                    rid, event, fut = api.pending.get()
                    api.waiting[rid] = fut
                    deadline = int((time.time() + api.timeout) * 1000)
                    self._reply(200, json.dumps(event).encode(), {
                        "Lambda-Runtime-Aws-Request-Id": rid,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": api.arn,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                        "Content-Type": "application/json",
                    })
                else:
                    self._reply(404)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                parts = self.path.split("/")
                if self.path.endswith("/init/error"):
                    api.init_error = body.decode(errors="replace")
                elif len(parts) >= 6 and parts[3] == "invocation":
                    fut = api.waiting.pop(parts[4], None)
                    if fut is not None:
                        if parts[5] == "response":
                            fut.set_result(body)
                        else:
                            fut.set_exception(InvokeError(body.decode(errors="replace")))
                self._reply(202)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, event, timeout=None, alive=lambda: True):
        fut = Future()
        self.pending.put((str(uuid.uuid4()), event, fut))
        deadline = time.monotonic() + (timeout or self.timeout + 5)
        while True:
            try:
                out = fut.result(timeout=0.2)
                return json.loads(out) if out else None
            except TimeoutError:
                if not alive():
                    raise InvokeError("Runtime exited without providing a reason") from None
                if time.monotonic() > deadline:
                    raise InvokeError(f"Task timed out after {self.timeout} seconds") from None


class Function:
    """One function: its Runtime API and `instances` execution environments."""

    def __init__(self, name, config, code_dir, credentials, log_dir, instances=1):
        self.name = name
        self.config = config
        self.api = RuntimeApi(config["FunctionArn"], int(config.get("Timeout", 3)))
        env = dict(config.get("Environment", {}).get("Variables", {}))
        region = config["FunctionArn"].split(":")[3]
        logging = config.get("LoggingConfig", {})
        env.update({
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": config["FunctionName"],
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
            "AWS_LAMBDA_LOG_GROUP_NAME": logging.get("LogGroup", f"/aws/lambda/{config['FunctionName']}"),
            "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex,
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "_HANDLER": config.get("Handler", "bootstrap"),
            "AWS_EXECUTION_ENV": "AWS_Lambda_" + config.get("Runtime", "provided.al2023"),
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        })
        if logging.get("LogFormat") == "JSON":
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        self.env = env
        self.code_dir = code_dir
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.procs = []
        for _ in range(instances):
            self.start()

    def start(self):
        log = open(self.log_path, "ab")
        # Its own mount namespace: /var/task is this function's code, as in Lambda.
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               'mount --bind "$0" /var/task && cd /var/task && exec ./bootstrap', self.code_dir]
        self.procs.append(subprocess.Popen(cmd, env=self.env, stdout=log, stderr=log))

    def invoke(self, event, timeout=None):
        if self.api.init_error:
            raise InvokeError(f"init error: {self.api.init_error}")
        # A dead execution environment is replaced, as Lambda starts a new one.
        for i, p in enumerate(self.procs):
            if p.poll() is not None:
                self.procs.pop(i)
                self.start()
                break
        return self.api.invoke(event, timeout, alive=lambda: any(p.poll() is None for p in self.procs))

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    def log(self):
        try:
            return open(self.log_path, encoding="utf-8", errors="replace").read()
        except OSError:
            return ""


class EdgeRunner:
    """Runs Lambda@Edge versions warm under Node.js (demo/js/edge-worker.mjs: one JSON
    line per event), one worker per version, each from that version's own zip."""

    def __init__(self, worker_js, work_dir):
        self.worker_js = worker_js
        self.work_dir = work_dir
        self.workers = {}
        self.lock = threading.Lock()
        self.seq = 0

    def run(self, version_arn, zip_bytes, event):
        with self.lock:
            w = self.workers.get(version_arn)
            if w is None:
                import io
                import zipfile
                d = os.path.join(self.work_dir, version_arn.replace(":", "_"))
                os.makedirs(d, exist_ok=True)
                zipfile.ZipFile(io.BytesIO(zip_bytes)).extractall(d)
                p = subprocess.Popen(["node", self.worker_js, d], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                w = (p, threading.Lock())
                self.workers[version_arn] = w
            self.seq += 1
            seq = self.seq
        p, lock = w
        with lock:
            p.stdin.write((json.dumps({"id": seq, "event": event}) + "\n").encode())
            p.stdin.flush()
            out = json.loads(p.stdout.readline())
        if "error" in out:
            raise InvokeError(out["error"])
        return out["result"]

    def stop(self):
        for p, _ in self.workers.values():
            p.kill()
