"""EGJ1 against a real JWT library (PyJWT, installed in the test virtualenv):
tokens PyJWT signs verify here, and tokens signed here decode with PyJWT."""

from __future__ import annotations

import random
import secrets
import time
import unittest
import warnings
from typing import Any, Dict, Optional

import jwt  # PyJWT: a test dependency, never a runtime one

from embedgate import EmbedError, sign_embed_jwt, verify_embed_url

from .support import KEYS, KID, NOW, SECRET, rand_attrs, rand_sub, rand_url


def pyjwt_url(
    claims: Dict[str, Any],
    host: str = "embed.example.com",
    headers: Optional[Dict[str, Any]] = None,
) -> str:
    token = jwt.encode(claims, SECRET, algorithm="HS256", headers=headers or {"kid": KID})
    return f"https://{host}/d/sales?eg_jwt={token}"


class PyJwtSigns(unittest.TestCase):
    def test_the_specs_example_verifies(self) -> None:
        # EGJ1 §4, as written there.
        now = int(time.time())
        token = jwt.encode(
            {"aud": "embed.example.com", "path": "/d/sales",
             "params": {"orgId": "1", "var-region": ["emea", "apac"]},
             "sub": "user-42", "exp": now + 300, "jti": secrets.token_urlsafe(16),
             "attrs": {"tenant": "acme"}},
            SECRET, algorithm="HS256", headers={"kid": KID})  # fmt: skip
        url = "https://embed.example.com/d/sales?eg_jwt=" + token
        v = verify_embed_url(url, keys=KEYS, now=now)
        self.assertEqual((v.scheme, v.kid, v.sub), ("EGJ1", KID, "user-42"))
        self.assertEqual(dict(v.attrs), {"tenant": "acme"})
        self.assertEqual(v.forward, "/d/sales?orgId=1&var-region=apac&var-region=emea")

    def test_pyjwt_tokens_with_unicode_claims_and_extra_claims(self) -> None:
        rng = random.Random(5)
        for i in range(100):
            sub = rand_sub(rng)
            attrs = dict(rand_attrs(rng))
            params = {
                f"p{k}-é": [rand_sub(rng) for _ in range(rng.randint(1, 3))]
                for k in range(rng.randint(0, 3))
            }
            claims: Dict[str, Any] = {
                "aud": "embed.example.com",
                "path": "/d/sales",
                "sub": sub,
                "exp": NOW + 300,
                "jti": secrets.token_urlsafe(rng.randint(12, 90)),
                "iat": NOW,
                "iss": "app",
            }
            if params:
                claims["params"] = params
            if attrs:
                claims["attrs"] = attrs
            if i % 3 == 0:
                claims["nbf"] = NOW
                claims["session"] = 1200
            with self.subTest(i=i):
                v = verify_embed_url(pyjwt_url(claims), keys=KEYS, now=NOW)
                self.assertEqual(v.sub, sub)
                self.assertEqual(dict(v.attrs), attrs)
                self.assertEqual(v.session, 1200 if i % 3 == 0 else 3600)

    def test_pyjwt_with_another_algorithm_or_header_is_malformed(self) -> None:
        claims: Dict[str, Any] = {
            "aud": "embed.example.com",
            "path": "/d/sales",
            "sub": "u",
            "exp": NOW + 60,
            "jti": "j" * 16,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyJWT finds 32 bytes short for HS512
            token = jwt.encode(claims, SECRET, algorithm="HS512", headers={"kid": KID})
        with self.assertRaises(EmbedError) as e:
            verify_embed_url(
                f"https://embed.example.com/d/sales?eg_jwt={token}", keys=KEYS, now=NOW
            )
        self.assertEqual(e.exception.reason, "malformed")
        with self.assertRaises(EmbedError) as e:
            verify_embed_url(
                pyjwt_url(claims, headers={"kid": KID, "cty": "x"}), keys=KEYS, now=NOW
            )
        self.assertEqual(e.exception.reason, "malformed")
        # A token for another host is a bad signature.
        with self.assertRaises(EmbedError) as e:
            verify_embed_url(pyjwt_url(claims, host="other.example.com"), keys=KEYS, now=NOW)
        self.assertEqual(e.exception.reason, "bad_signature")


class PyJwtDecodes(unittest.TestCase):
    def test_tokens_signed_here_decode_with_pyjwt(self) -> None:
        rng = random.Random(6)
        for i in range(100):
            url = rand_url(rng)
            sub, attrs = rand_sub(rng), dict(rand_attrs(rng))
            signed = sign_embed_jwt(url, kid=KID, secret=SECRET, sub=sub, attrs=attrs, session=60)
            token = signed.split("eg_jwt=", 1)[1].split("#", 1)[0]
            v = verify_embed_url(signed, keys=KEYS, now=time.time())
            with self.subTest(i=i, url=url):
                header = jwt.get_unverified_header(token)
                self.assertEqual(header, {"alg": "HS256", "kid": KID, "typ": "JWT"})
                claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=v.host)
                self.assertEqual(claims["aud"], v.host)
                self.assertEqual(claims["path"], v.path)
                self.assertEqual(claims["sub"], sub)
                self.assertEqual(claims.get("attrs", {}), attrs)
                self.assertEqual(claims["session"], 60)
                self.assertEqual(claims["jti"], v.nonce)
                self.assertEqual(claims["exp"], v.exp)
                # PyJWT refuses it under another secret, like the verifier.
                with self.assertRaises(jwt.InvalidSignatureError):
                    jwt.decode(
                        token,
                        "another secret, just as long as it",
                        algorithms=["HS256"],
                        audience=v.host,
                    )


if __name__ == "__main__":
    unittest.main()
