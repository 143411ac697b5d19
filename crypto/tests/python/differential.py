"""Differential oracle for hearth_crypto: Synapse's own canonicaljson and signedjson libraries.

Driven by crypto/tests/python_differential.rs. Protocol (JSON lines):
  stdout, first line: {"versions": {"canonicaljson": ..., "signedjson": ...}}
  stdin, one per case: {"id": n, "value": <object>, "rust_signed": <object signed by Hearth>}
  stdout, one per case: {"id": n, "canonical_b64": <base64 of encode_canonical_json(value)>,
                         "signature": <signedjson signature of value as "domain" / "ed25519:1">,
                         "rust_signature_ok": <verify_signed_json(rust_signed) succeeded>,
                         "error": <null or a description>}
The signing key is the spec's test seed, so signatures are deterministic and comparable byte for byte.
"""

import base64
import copy
import importlib.metadata
import json
import sys

import canonicaljson
from signedjson.key import decode_signing_key_base64, get_verify_key
from signedjson.sign import SignatureVerifyException, sign_json, verify_signed_json

SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
SERVER = "domain"
KEY_ID = "ed25519:1"


def main() -> None:
    signing_key = decode_signing_key_base64("ed25519", "1", SEED)
    verify_key = get_verify_key(signing_key)
    out = sys.stdout
    out.write(
        json.dumps(
            {
                "versions": {
                    "canonicaljson": importlib.metadata.version("canonicaljson"),
                    "signedjson": importlib.metadata.version("signedjson"),
                }
            }
        )
        + "\n"
    )
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        case = json.loads(line)
        result = {"id": case["id"], "canonical_b64": None, "signature": None,
                  "rust_signature_ok": False, "error": None}
        try:
            value = case["value"]
            encoded = canonicaljson.encode_canonical_json(value)
            result["canonical_b64"] = base64.b64encode(encoded).decode("ascii")
            signed = sign_json(copy.deepcopy(value), SERVER, signing_key)
            result["signature"] = signed["signatures"][SERVER][KEY_ID]
            try:
                verify_signed_json(case["rust_signed"], SERVER, verify_key)
                result["rust_signature_ok"] = True
            except SignatureVerifyException as e:
                result["error"] = "rust signature rejected: %s" % e
        except Exception as e:  # report, never crash the whole run
            result["error"] = "%s: %s" % (type(e).__name__, e)
        out.write(json.dumps(result) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
