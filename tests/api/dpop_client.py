"""schemathesis hooks: a DPoP client (RFC 9449) wherever www/openapi.yaml takes `dpopToken`.

schemathesis has no DPoP of its own. Loaded with `SCHEMATHESIS_HOOKS=tests/api/dpop_client.py`,
this signs in at `POST /auth/token` with a proof by a P-256 key made for the run (so the session
is bound to it), and sends every operation that accepts `dpopToken` with
`Authorization: DPoP <token>` and a fresh ES256 proof for its method and URL. A 401 (the run ends
sessions itself) signs in again. Those operations take no other scheme in this run. Needs EDGEGATE_URL, EDGEGATE_USER and EDGEGATE_PASSWORD; prints
how many requests it signed, so the test can tell that it ran.
"""

import atexit
import base64
import hashlib
import json
import os
import sys
import time
import uuid

import requests
import schemathesis
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

KEY = ec.generate_private_key(ec.SECP256R1())
SIGNED = {"requests": 0}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk() -> dict:
    numbers = KEY.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


def proof(method: str, url: str, token: str | None = None) -> str:
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk()}
    claims = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": int(time.time())}
    if token is not None:
        claims["ath"] = b64url(hashlib.sha256(token.encode()).digest())
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    r, s = decode_dss_signature(KEY.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


@schemathesis.hook
def before_load_schema(context, raw_schema):
    """Operations that take a DPoP-bound token take only that here: the configured schemes
    (cookies, bearer tokens) would otherwise come first, and this client would never be asked."""
    for path_item in raw_schema.get("paths", {}).values():
        for operation in path_item.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if security and any("dpopToken" in requirement for requirement in security):
                # Kept: `{}`, where the operation also answers without credentials.
                operation["security"] = [r for r in security if "dpopToken" in r or not r]


def takes_dpop(operation) -> bool:
    security = operation.definition.raw.get("security") or []
    return any("dpopToken" in requirement for requirement in security)


@schemathesis.auth()
class DPoPClient:
    def get(self, case, context):
        url = os.environ["EDGEGATE_URL"] + "/auth/token"
        answer = requests.post(
            url,
            json={
                "grant_type": "password",
                "username": os.environ["EDGEGATE_USER"],
                "password": os.environ["EDGEGATE_PASSWORD"],
            },
            headers={"DPoP": proof("POST", url)},
            timeout=10,
        )
        answer.raise_for_status()
        body = answer.json()
        if body.get("token_type") != "DPoP":
            raise RuntimeError(f"the token endpoint did not bind the session: {body.get('token_type')}")
        return body["access_token"]

    def set(self, case, data, context):
        if not takes_dpop(case.operation):
            return
        url = os.environ["EDGEGATE_URL"] + case.formatted_path
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"DPoP {data}"
        case.headers["DPoP"] = proof(case.method.upper(), url, data)
        SIGNED["requests"] += 1


atexit.register(lambda: print(f"dpop_client: {SIGNED['requests']} requests signed", file=sys.stderr))
