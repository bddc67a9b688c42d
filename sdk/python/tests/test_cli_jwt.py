"""EGJ1 against the Rust CLI: `embedgate verify` on EGJ1 URLs and
`embedgate sign --jwt`: every vector, Python-signed tokens verified by the
CLI, and CLI-signed tokens equal to Python's byte for byte.
"""

from __future__ import annotations

import json
import random
import unittest
from typing import Any, Dict

from embedgate import EmbedError, sign_embed_jwt, verify_embed_url
from embedgate.base64url import decode_canonical

from .support import (
    KEYS,
    KID,
    NOW,
    SECRET,
    Cli,
    load_vectors,
    rand_attrs,
    rand_nonce,
    rand_sub,
    rand_url,
)

ROUNDS = 100


def token_parts(url: str) -> Dict[str, Any]:
    token = url.split("eg_jwt=", 1)[1].split("#", 1)[0]
    header, payload, _ = token.split(".")
    h, p = decode_canonical(header), decode_canonical(payload)
    assert h is not None and p is not None
    return {"header": json.loads(h), "claims": json.loads(p)}


def spec_claims(url: str) -> Dict[str, Any]:
    """The claims EGJ1 §1 defines, in one spelling: a signer may add others
    (iat), write a lone parameter as a string or a one-element array, and
    leave out empty params or attrs."""
    claims = token_parts(url)["claims"]
    out = {k: claims[k] for k in ["aud", "path", "sub", "exp", "jti", "session"] if k in claims}
    out["params"] = {
        k: v if isinstance(v, list) else [v] for k, v in claims.get("params", {}).items()
    }
    out["attrs"] = claims.get("attrs", {})
    return out


class CliJwt(unittest.TestCase):
    cli: Cli

    @classmethod
    def setUpClass(cls) -> None:
        cls.cli = Cli()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.cli.close()

    def test_every_egj1_vector_gets_its_verdict_and_forward(self) -> None:
        vectors = load_vectors("embed-jwt-v1.json")
        cli = Cli(vectors["keys"])
        try:
            for c in vectors["cases"]:
                with self.subTest(c["name"]):
                    rust = cli.verify(c["url"], c["now"])
                    self.assertEqual(rust["result"], c["expect"])
                    if c["expect"] == "ok":
                        self.assertEqual(rust["forward"], c["forward"])
        finally:
            cli.close()

    def test_python_signed_egj1_urls_verify_with_the_cli(self) -> None:
        rng = random.Random(41)
        for i in range(ROUNDS):
            url, sub, attrs = rand_url(rng), rand_sub(rng), rand_attrs(rng)
            session = rng.choice([None, 60, 7200])
            with self.subTest(i=i, url=url):
                signed = sign_embed_jwt(
                    url, kid=KID, secret=SECRET, sub=sub, now=NOW, session=session, attrs=attrs
                )
                py = verify_embed_url(signed, keys=KEYS, now=NOW)
                rust = self.cli.verify(signed)
                self.assertEqual(rust["result"], "ok", signed)
                for name in ["kid", "sub", "exp", "nonce", "session", "host", "forward"]:
                    self.assertEqual(rust[name], getattr(py, name), name)
                self.assertEqual(rust["attrs"], dict(py.attrs))
                # Another host, or another secret, is a bad signature to both.
                moved = signed.replace("://", "://x", 1)
                self.assertEqual(self.cli.verify(moved)["result"], "bad_signature")
                with self.assertRaises(EmbedError) as e:
                    verify_embed_url(moved, keys=KEYS, now=NOW)
                self.assertEqual(e.exception.reason, "bad_signature")

    def test_cli_signed_egj1_urls_verify_in_python_with_the_same_claims(self) -> None:
        rng = random.Random(42)
        for i in range(ROUNDS):
            url, sub, attrs, nonce = rand_url(rng), rand_sub(rng), rand_attrs(rng), rand_nonce(rng)
            session = rng.choice([None, 900])
            with self.subTest(i=i, url=url):
                out = self.cli.sign(
                    url,
                    sub=sub,
                    exp=NOW + 300,
                    nonce=nonce,
                    session=session,
                    attrs=attrs,
                    extra=["--jwt"],
                )
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertNotIn(SECRET, out.stdout + out.stderr)
                signed = out.stdout.rstrip("\n")
                v = verify_embed_url(signed, keys=KEYS, now=NOW)
                self.assertEqual(
                    (v.scheme, v.sub, v.nonce, v.requested_session), ("EGJ1", sub, nonce, session)
                )
                self.assertEqual(dict(v.attrs), dict(attrs))
                py = sign_embed_jwt(
                    url,
                    kid=KID,
                    secret=SECRET,
                    sub=sub,
                    now=NOW,
                    nonce=nonce,
                    session=session,
                    attrs=attrs,
                )
                # Byte for byte: the same header, claim order and JSON spelling.
                self.assertEqual(signed, py)
                self.assertEqual(spec_claims(signed), spec_claims(py))
                self.assertEqual(token_parts(signed)["header"]["alg"], "HS256")
                self.assertEqual(token_parts(signed)["header"]["kid"], KID)
                self.assertEqual(v.forward, verify_embed_url(py, keys=KEYS, now=NOW).forward)


if __name__ == "__main__":
    unittest.main()
