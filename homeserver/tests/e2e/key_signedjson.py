#!/usr/bin/env python3
"""Verify a running Hearth's /_matrix/key/v2/server document with Synapse's own `signedjson` library.

Usage: key_signedjson.py BASE_URL [BASE_URL ...]

Each BASE_URL is a listener of the same server (e.g. http://127.0.0.1:8008 and https://127.0.0.1:8448). For
each one the script fetches the key document and checks, with an implementation independent of Hearth's, that:
  * it has the fields the spec requires and names the server that signed it,
  * valid_until_ts lies in the future,
  * every key in verify_keys verifies the document's signature (signedjson.sign.verify_signed_json),
  * a tampered copy does NOT verify (so the check above cannot pass vacuously).
All listeners must publish the same keys. HTTPS certificates are not verified: Hearth generates a self-signed
one by default. Exit status 0 means every check passed.

Needs: pip install canonicaljson==2.0.0 signedjson==1.1.4
"""

import copy
import json
import ssl
import sys
import time
import urllib.request

from signedjson.key import decode_verify_key_bytes
from signedjson.sign import SignatureVerifyException, verify_signed_json
from unpaddedbase64 import decode_base64

KEY_PATH = "/_matrix/key/v2/server"


def fetch(base_url):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(base_url.rstrip("/") + KEY_PATH, timeout=10, context=context) as response:
        if response.status != 200:
            raise AssertionError(f"{base_url}: HTTP {response.status}")
        return json.loads(response.read())


def check_document(base_url, doc):
    for field in ("server_name", "valid_until_ts", "verify_keys", "old_verify_keys", "signatures"):
        if field not in doc:
            raise AssertionError(f"{base_url}: field {field!r} missing from {doc}")
    server_name = doc["server_name"]
    now_ms = int(time.time() * 1000)
    if doc["valid_until_ts"] <= now_ms:
        raise AssertionError(f"{base_url}: valid_until_ts {doc['valid_until_ts']} is not in the future")
    if not doc["verify_keys"]:
        raise AssertionError(f"{base_url}: no verify_keys")
    for key_id, entry in doc["verify_keys"].items():
        algorithm, version = key_id.split(":", 1)
        verify_key = decode_verify_key_bytes(key_id, decode_base64(entry["key"]))
        verify_signed_json(doc, server_name, verify_key)
        tampered = copy.deepcopy(doc)
        tampered["valid_until_ts"] += 1
        try:
            verify_signed_json(tampered, server_name, verify_key)
        except SignatureVerifyException:
            pass
        else:
            raise AssertionError(f"{base_url}: a tampered document verified with {key_id}")
        print(f"{base_url}: {server_name} {algorithm}:{version} verified with signedjson")
    return doc["verify_keys"]


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    published = [check_document(url, fetch(url)) for url in argv[1:]]
    if any(keys != published[0] for keys in published[1:]):
        raise AssertionError(f"listeners publish different keys: {published}")
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
