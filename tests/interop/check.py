"""Check edgeseal signatures with the stock PyPI `http-message-signatures`, and sign the
same requests with it (tests/tests/interop.rs reads the output).

Input (argv[1]): {"key_base64", "keyid", "created", "tag", "requests": [{"method", "url",
"signature_input", "signature"}]}; the URL is the request as the origin received it; "tag"
(default "edgeseal") is the tag expected and written: it states the signing profile.
Output (stdout): one JSON object per request: {"verified", "error", "signature_input",
"signature"} (the last two: the stock library's own signature of the request, null when
it refuses to sign it, with "sign_error").
"""

import base64
import datetime
import json
import sys

from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, HTTPSignatureKeyResolver, algorithms

COMPONENTS = ("@method", "@authority", "@path", "@query")


class Keys(HTTPSignatureKeyResolver):
    def __init__(self, keyid, key):
        self.keyid, self.key = keyid, key

    def resolve_public_key(self, key_id):
        return self.key if key_id == self.keyid else None

    def resolve_private_key(self, key_id):
        return self.key


class Headers(dict):
    """Field names compared case-insensitively, as the library's header views are."""

    def __contains__(self, name):
        return any(k.lower() == name.lower() for k in self.keys())


class Request:
    """The request as the origin received it: method, URL as sent, headers."""

    def __init__(self, method, url, headers):
        self.method, self.url, self.headers = method, url, Headers(headers)


def main():
    corpus = json.load(open(sys.argv[1]))
    keys = Keys(corpus["keyid"], base64.b64decode(corpus["key_base64"]))
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=keys)
    signer = HTTPMessageSigner(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=keys)
    created = datetime.datetime.fromtimestamp(corpus["created"], tz=datetime.timezone.utc)
    tag = corpus.get("tag", "edgeseal")
    out = []
    for r in corpus["requests"]:
        result = {"verified": False, "error": None}
        host = r["url"].split("/")[2]
        signed = Request(r["method"], r["url"], {"Host": host, "Signature-Input": r["signature_input"], "Signature": r["signature"]})
        try:
            verifier.verify(signed, max_age=datetime.timedelta(seconds=300), expect_tag=tag, require_components=COMPONENTS)
            result["verified"] = True
        except Exception as e:  # the library's InvalidSignature and its other errors alike
            result["error"] = f"{type(e).__name__}: {e}"
        fresh = Request(r["method"], r["url"], {"Host": host})
        try:
            signer.sign(fresh, key_id=corpus["keyid"], created=created, label="edgeseal", tag=tag, covered_component_ids=COMPONENTS)
            result["signature_input"] = fresh.headers["Signature-Input"]
            result["signature"] = fresh.headers["Signature"]
        except Exception as e:  # a URL the library will not sign (e.g. raw brackets in the query)
            result["signature_input"] = result["signature"] = None
            result["sign_error"] = f"{type(e).__name__}: {e}"
        out.append(result)
    json.dump(out, sys.stdout)


main()
