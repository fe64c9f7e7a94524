"""Verifies an edgegate identity assertion (X-Auth-Assertion) with PyJWT.

    pip install pyjwt cryptography    # cryptography provides EdDSA
    python3 verify.py TOKEN JWKS_URL ISSUER AUDIENCE

Prints the claims and exits 0 when the assertion is valid; prints `refused: <why>` and exits 1
when it is not.
"""
import json
import sys

import jwt

ASSERTION_TYP = "edgegate-assertion+jwt"


class AssertionVerifier:
    """Make one per process: it caches the JWKS."""

    def __init__(self, jwks_url, issuer, audience):
        # Caches the JWKS for 5 minutes and fetches it again when a token names an unknown kid.
        self.jwks = jwt.PyJWKClient(jwks_url, lifespan=300)
        self.issuer = issuer
        self.audience = audience

    def verify(self, token):
        """Returns the claims (sub: user, sid: session, roles) or raises jwt.PyJWTError."""
        if jwt.get_unverified_header(token).get("typ") != ASSERTION_TYP:
            raise jwt.InvalidTokenError("not an edgegate assertion (typ)")
        key = self.jwks.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            issuer=self.issuer,
            audience=self.audience,
            leeway=5,
            options={"require": ["exp", "nbf", "iat", "sub", "sid"]},
        )
        if claims.get("knd") != "assertion":
            raise jwt.InvalidTokenError("not an edgegate assertion (knd)")
        return claims


if __name__ == "__main__":
    token, jwks_url, issuer, audience = sys.argv[1:5]
    try:
        print(json.dumps(AssertionVerifier(jwks_url, issuer, audience).verify(token)))
    except jwt.PyJWTError as err:
        print(f"refused: {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(1)
