#!/usr/bin/env python3
"""Write the seed corpus (fuzz/seeds/<target>/) from the project's test vectors and
fixtures: every target starts from inputs that reach deep (valid signatures under the
fuzz key, real event shapes), not from nothing. Rerun after the vectors change:
    python3 fuzz/seeds.py
"""
import copy
import hashlib
import json
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "seeds")


def load(*parts):
    with open(os.path.join(ROOT, *parts), "rb") as f:
        return f.read()


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    if isinstance(data, (dict, list)):
        data = json.dumps(data).encode()
    directory = os.path.join(OUT, target)
    os.makedirs(directory, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    vectors = json.loads(load("shared", "tests", "vectors", "signatures.json"))
    http = json.loads(load("tests", "fixtures", "apigw", "http-api-v2-request.json"))
    rest = json.loads(load("tests", "fixtures", "apigw", "rest-request.json"))

    for case in vectors["cases"]:
        path = case["origin_path"].rstrip("/") + case["uri"]
        fields = (case["signature_input"], case["signature"])
        # signature_fields: input \n signature \n path \n query
        write("signature_fields", "\n".join([*fields, path, case["raw_query"]]))
        # edge_wire: nine little-endian lengths, then the strings (see edge.rs `wire`):
        # method, host, origin domain, origin path, uri, query, then the two viewer
        # signature fields and the body (base64), each possibly absent.
        strings = [case["method"], case["host"], case["host"], case["origin_path"], case["uri"], case["raw_query"]]
        wire = b"".join(struct.pack("<I", len(s.encode())) for s in strings)
        wire += struct.pack("<I", 0xFFFFFFFF) * 3
        write("edge_wire", wire + "".join(strings).encode())
        signed = [*strings, *fields, "eyJuIjoxfQ=="]
        wire = b"".join(struct.pack("<I", len(s.encode())) for s in signed)
        write("edge_wire", wire + "".join(signed).encode())
        # authorizer_event: the HTTP API 2.0 and REST fixtures carrying the signature.
        event = copy.deepcopy(http)
        event["rawPath"] = path
        event["rawQueryString"] = case["raw_query"]
        event["requestContext"]["http"]["method"] = case["method"]
        event["requestContext"]["domainName"] = case["host"]
        event["headers"]["host"] = case["host"]
        event["headers"]["signature-input"], event["headers"]["signature"] = fields
        write("authorizer_event", event)
        event = copy.deepcopy(rest)
        event["httpMethod"] = case["method"]
        event["requestContext"]["httpMethod"] = case["method"]
        event["requestContext"]["path"] = path
        query = {}
        for name, value in case["query_pairs"]:
            query.setdefault(name, []).append(value)
        event["multiValueQueryStringParameters"] = query or None
        event["queryStringParameters"] = {k: v[-1] for k, v in query.items()} or None
        for name, value in [("Host", case["host"]), ("Signature-Input", fields[0]), ("Signature", fields[1])]:
            event["headers"][name] = value
            event["multiValueHeaders"][name] = [value]
        write("authorizer_event", event)

    # The hand-made malformed corpus of the authorizer's counted test.
    malformed = os.path.join(ROOT, "origin-verifier", "tests", "malformed")
    if os.path.isdir(malformed):
        for name in sorted(os.listdir(malformed)):
            if name.endswith(".json"):
                write("authorizer_event", load("origin-verifier", "tests", "malformed", name))

    key = vectors["key_base64"]
    write("secret_value", {"alg": "hmac-sha256", "key": key})
    write("secret_value", {"HTTP_API_KEY": "static-origin-secret-0123456789"})
    write("secret_value", {"HEADERVALUE": "static-origin-secret-0123456789"})
    write("secret_value", {"X_CUSTOM_FIELD": "static-origin-secret-0123456789", "alg": "x"})

    for max_age in (0, 300):
        write("edge_config", {"format": 1, "label": "edgeseal", "keyid": vectors["keyid"], "key": key, "max_age_secs": max_age})

    fixtures = os.path.join(ROOT, "tests", "fixtures", "secretsmanager")
    for name in sorted(os.listdir(fixtures)):
        if name.startswith("rotation-"):
            write("rotation_event", load("tests", "fixtures", "secretsmanager", name))


if __name__ == "__main__":
    main()
