"""Signs an EGJ1 token with PyJWT, the way docs/signing.md shows:
``python sign_pyjwt.py '{"secret": ..., "kid": ..., "claims": {...}}'``
prints the token."""

import json
import sys

import jwt

request = json.loads(sys.argv[1])
token = jwt.encode(
    request["claims"], request["secret"], algorithm="HS256", headers={"kid": request["kid"]}
)
print(token)
