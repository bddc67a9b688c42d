"""EG1 against the Rust CLI (`embedgate sign`, `embedgate verify`, found
through $EMBEDGATE_BIN): for generated inputs (unicode users and
attributes, odd query strings), both signers write the same URL byte for
byte, Python-signed URLs verify in Rust, CLI-signed ones verify in Python,
and both give the same verdict on every vector and every tampering."""

from __future__ import annotations

import random
import unittest
from typing import Any, Dict, List

from embedgate import EmbedError, VerifiedEmbed, sign_embed_url, string_to_sign, verify_embed_url

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

ROUNDS = 150


def py_verdict(url: str, keys: Dict[str, Any] = KEYS, now: int = NOW) -> str:
    try:
        verify_embed_url(url, keys=keys, now=now)
    except EmbedError as e:
        return e.reason
    return "ok"


class CliCrossCheck(unittest.TestCase):
    cli: Cli

    @classmethod
    def setUpClass(cls) -> None:
        cls.cli = Cli()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.cli.close()

    def assert_same_view(self, rust: Dict[str, Any], py: VerifiedEmbed, url: str) -> None:
        self.assertEqual(rust["result"], "ok", url)
        self.assertEqual(rust["string_to_sign"], string_to_sign(url))
        self.assertEqual(rust["kid"], py.kid)
        self.assertEqual(rust["sub"], py.sub)
        self.assertEqual(rust["exp"], py.exp)
        self.assertEqual(rust["nonce"], py.nonce)
        self.assertEqual(rust["session"], py.session)
        self.assertEqual(rust["attrs"], dict(py.attrs))
        self.assertEqual(rust["host"], py.host)
        self.assertEqual(rust["forward"], py.forward)

    def test_python_and_the_cli_sign_the_same_url_byte_for_byte(self) -> None:
        rng = random.Random(17)
        for i in range(ROUNDS):
            url, sub, attrs, nonce = rand_url(rng), rand_sub(rng), rand_attrs(rng), rand_nonce(rng)
            session = rng.choice([None, 0, 600, 86400])
            with self.subTest(i=i, url=url):
                out = self.cli.sign(
                    url, sub=sub, exp=NOW + 300, nonce=nonce, session=session, attrs=attrs
                )
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertNotIn(SECRET, out.stdout + out.stderr)
                py = sign_embed_url(
                    url,
                    kid=KID,
                    secret=SECRET,
                    sub=sub,
                    now=NOW,
                    nonce=nonce,
                    session=session,
                    attrs=attrs,
                )
                self.assertEqual(py, out.stdout.rstrip("\n"))

    def test_python_signed_urls_verify_with_the_cli(self) -> None:
        rng = random.Random(18)
        for i in range(ROUNDS):
            url, sub, attrs = rand_url(rng), rand_sub(rng), rand_attrs(rng)
            session = rng.choice([None, 60, 7200])
            with self.subTest(i=i, url=url):
                signed = sign_embed_url(
                    url,
                    kid=KID,
                    secret=SECRET,
                    sub=sub,
                    ttl=120,
                    now=NOW,
                    session=session,
                    attrs=attrs,
                )
                rust = self.cli.verify(signed)
                self.assert_same_view(rust, verify_embed_url(signed, keys=KEYS, now=NOW), signed)
                self.assertEqual(rust["sub"], sub)
                self.assertEqual(rust["attrs"], dict(attrs))
                # Changing any signed byte is caught by both.
                tampered = signed.replace("eg_exp=", "eg_exp=1", 1)
                self.assertEqual(self.cli.verify(tampered)["result"], "bad_signature")
                self.assertEqual(py_verdict(tampered), "bad_signature")

    def test_cli_signed_urls_verify_in_python(self) -> None:
        rng = random.Random(19)
        for i in range(ROUNDS):
            url, sub, attrs, nonce = rand_url(rng), rand_sub(rng), rand_attrs(rng), rand_nonce(rng)
            with self.subTest(i=i, url=url):
                out = self.cli.sign(
                    url,
                    sub=sub,
                    exp=NOW + 60,
                    nonce=nonce,
                    session=rng.choice([None, 900]),
                    attrs=attrs,
                )
                self.assertEqual(out.returncode, 0, out.stderr)
                signed = out.stdout.rstrip("\n")
                py = verify_embed_url(signed, keys=KEYS, now=NOW)
                self.assertEqual(py.sub, sub)
                self.assertEqual(dict(py.attrs), dict(attrs))
                self.assertEqual(py.nonce, nonce)
                self.assert_same_view(self.cli.verify(signed), py, signed)

    def test_tampered_and_reencoded_urls_get_the_same_verdict(self) -> None:
        rng = random.Random(20)
        for i in range(ROUNDS // 2):
            signed = sign_embed_url(
                rand_url(rng), kid=KID, secret=SECRET, sub=rand_sub(rng), now=NOW
            )
            base, _, fragment = signed.partition("#")
            variants = [
                base.replace("?", "?x=1&", 1),  # an added parameter
                base.replace("eg_sub=", "eg_sub=%20", 1),
                base.replace("https://", "https://a", 1),  # another host
                base.replace("&eg_", "&&eg_"),  # empty pieces: same URL
                base.replace("eg_kid=", "eg%5Fkid=", 1),  # an encoded name: same URL
                base + "&eg_kid=" + KID,  # a repeated eg_ parameter
                base + "&eg_role=admin",  # an unknown eg_ parameter
                base[:-1] + ("B" if base[-1] != "B" else "C"),  # a stray-bit or wrong signature
            ]
            for v in variants:
                with self.subTest(i=i, url=v):
                    self.assertEqual(self.cli.verify(v)["result"], py_verdict(v))


# The cases revision 1.1 of EG1 added; the Rust core answers them by 1.1
# only once it implements it.
REVISION_1_1 = frozenset(
    {
        "dot segment with parameters",
        "semicolon in an ordinary segment",
        "control byte in eg_sub",
        "attribute value not UTF-8",
        "signature with stray low bits",
    }
)


class CliVectors(unittest.TestCase):
    """The CLI gives every EG1 vector its expected verdict and string to sign."""

    def check(self, revision_1_1: bool) -> None:
        vectors = load_vectors("embed-url-v1.json")
        cases = [c for c in vectors["cases"] if (c["name"] in REVISION_1_1) == revision_1_1]
        self.assertEqual(len(cases), 5 if revision_1_1 else 30)
        cli = Cli(vectors["keys"])
        try:
            for c in cases:
                with self.subTest(c["name"]):
                    rust = cli.verify(c["url"], c["now"])
                    self.assertEqual(rust["result"], c["expect"])
                    if "string_to_sign" in c:
                        self.assertEqual(rust["string_to_sign"], c["string_to_sign"])
        finally:
            cli.close()

    def test_the_revision_1_0_vectors(self) -> None:
        self.check(revision_1_1=False)

    def test_the_revision_1_1_vectors(self) -> None:
        self.check(revision_1_1=True)


GOOD_REQUEST: Dict[str, Any] = dict(
    url="https://embed.example.com/d/sales?orgId=1", sub="user-42", nonce="N" * 16, attrs=[]
)


class CliRefusals(unittest.TestCase):
    """What the Python signer refuses, the CLI's signer refuses too."""

    def check(self, changes: List[Dict[str, Any]]) -> None:
        cli = Cli()
        try:
            for change in changes:
                req = {**GOOD_REQUEST, **change}
                with self.subTest(change=change):
                    out = cli.sign(
                        req["url"],
                        sub=req["sub"],
                        exp=NOW + 60,
                        nonce=req["nonce"],
                        attrs=req["attrs"],
                    )
                    self.assertNotEqual(out.returncode, 0, f"the CLI signed it: {out.stdout}")
                    self.assertNotIn(SECRET, out.stdout + out.stderr)
                    with self.assertRaises(EmbedError) as e:
                        sign_embed_url(
                            req["url"],
                            kid=KID,
                            secret=SECRET,
                            sub=req["sub"],
                            nonce=req["nonce"],
                            now=NOW,
                            attrs=req["attrs"],
                        )
                    self.assertEqual(e.exception.reason, "malformed")
        finally:
            cli.close()

    def test_what_revision_1_0_forbids(self) -> None:
        self.check(
            [
                {"url": "https://embed.example.com/d/sales?eg_sub=admin"},
                {"url": "https://embed.example.com/d/sales?eg%5Fsig=x"},
                {"url": "https://embed.example.com/d/../admin"},
                {"url": "https://embed.example.com/d/%2e%2E/admin"},
                {"url": "https://embed.example.com/d/a%2Fb"},
                {"url": "https://embed.example.com/d//x"},
                {"url": "https://embed.example.com/d/a%zz"},
                {"url": "https://embed.example.com/d?q=%4"},
                {"url": "https://user@embed.example.com/d"},
                {"url": "embed.example.com/d"},
                {"sub": ""},
                {"sub": "é" * 129},
                {"nonce": "short"},
                {"nonce": "N" * 15 + "!"},
                {"attrs": [("Tenant", "acme")]},
                {"attrs": [("a" * 65, "x")]},
                {"attrs": [("a", "1"), ("a", "2")]},
            ]
        )

    def test_what_revision_1_1_forbids(self) -> None:
        self.check(
            [
                {"url": "https://embed.example.com/d/..;x/secret"},
                {"url": "https://embed.example.com/d/%2e%2e;jsessionid=1/secret"},
                {"url": "https://embed.example.com/d/.;v=1/secret"},
                {"sub": "user\n42"},
                {"sub": "tab\there"},
                {"attrs": [("team", "a\x7fb")]},
            ]
        )


if __name__ == "__main__":
    unittest.main()
