"""The shared conformance vectors (tests/vectors/embed-url-v1.json, 35 cases,
and embed-jwt-v1.json, 30 cases): every verdict, string to sign and
forwarded path, and the signers reproducing the signed URLs."""

from __future__ import annotations

import unittest
from typing import Any, Dict, List, Tuple, cast

from embedgate import EmbedError, sign_embed_jwt, sign_embed_url, string_to_sign, verify_embed_url

from .support import load_vectors

EG1 = load_vectors("embed-url-v1.json")
EGJ1 = load_vectors("embed-jwt-v1.json")
LIVE = "ek_live_4f9c2a"
SECRET = EG1["keys"][LIVE]["secret"]


def case(vectors: Dict[str, Any], name: str) -> Dict[str, Any]:
    found = [c for c in vectors["cases"] if c["name"] == name]
    assert len(found) == 1, name
    return cast(Dict[str, Any], found[0])


def verdict(vectors: Dict[str, Any], c: Dict[str, Any]) -> str:
    try:
        verify_embed_url(
            c["url"],
            keys=vectors["keys"],
            now=c["now"],
            skew=vectors["skew"],
            max_url_ttl=vectors["max_url_ttl"],
        )
    except EmbedError as e:
        return e.reason
    return "ok"


class Eg1Vectors(unittest.TestCase):
    def test_the_file_has_the_35_cases_of_revision_1_1(self) -> None:
        self.assertEqual(EG1["scheme"], "EG1-HMAC-SHA256")
        self.assertEqual(len(EG1["cases"]), 35)
        for name in [
            "dot segment with parameters",
            "semicolon in an ordinary segment",
            "control byte in eg_sub",
            "attribute value not UTF-8",
            "signature with stray low bits",
        ]:
            case(EG1, name)

    def test_every_verdict(self) -> None:
        for c in EG1["cases"]:
            with self.subTest(c["name"]):
                self.assertEqual(verdict(EG1, c), c["expect"])

    def test_every_string_to_sign(self) -> None:
        cases = [c for c in EG1["cases"] if "string_to_sign" in c]
        self.assertGreaterEqual(len(cases), 20)
        for c in cases:
            with self.subTest(c["name"]):
                self.assertEqual(string_to_sign(c["url"]), c["string_to_sign"])

    def test_ok_cases_forward_the_content_query_without_eg_parameters(self) -> None:
        for c in EG1["cases"]:
            if c["expect"] != "ok":
                continue
            with self.subTest(c["name"]):
                v = verify_embed_url(c["url"], keys=EG1["keys"], now=c["now"])
                self.assertEqual(v.scheme, "EG1")
                # The forwarded query is the string to sign's, less eg_ pairs.
                query = c["string_to_sign"].split("\n")[3]
                content = "&".join(p for p in query.split("&") if p and not p.startswith("eg_"))
                self.assertEqual(v.query, content)
                self.assertEqual(v.path, c["string_to_sign"].split("\n")[2])
                self.assertEqual(v.forward, v.path + ("?" + content if content else ""))

    def test_sign_reproduces_the_basic_and_attribute_vectors_byte_for_byte(self) -> None:
        basic = sign_embed_url(
            "https://embed.example.com/d/sales?orgId=1",
            kid=LIVE,
            secret=SECRET,
            sub="user-42",
            nonce="Yc1mB0sD7rX2aQ9vT4kL",
            now=1767225000,
        )
        self.assertEqual(basic, case(EG1, "basic")["url"])
        attrs = sign_embed_url(
            "https://embed.example.com/d/sales?orgId=1",
            kid=LIVE,
            secret=SECRET,
            sub="user-42",
            nonce="Yc1mB0sD7rX2aQ9vT4kL",
            now=1767225000,
            session=3600,
            attrs=[("tenant", "acme"), ("region", "emea")],
        )
        self.assertEqual(attrs, case(EG1, "attributes and session")["url"])

    def test_resigning_every_ok_case_gives_its_signature(self) -> None:
        for c in EG1["cases"]:
            if c["expect"] != "ok":
                continue
            with self.subTest(c["name"]):
                v = verify_embed_url(c["url"], keys=EG1["keys"], now=c["now"])
                content, sig, attrs = split_eg1(c["url"])
                url = sign_embed_url(
                    content,
                    kid=v.kid,
                    secret=EG1["keys"][v.kid]["secret"],
                    sub=v.sub,
                    nonce=v.nonce,
                    now=v.exp - 300,
                    session=v.requested_session,
                    attrs=attrs,
                )
                self.assertEqual(url.rsplit("&eg_sig=", 1)[1], sig)


def split_eg1(url: str) -> Tuple[str, str, List[Tuple[str, str]]]:
    """A signed URL's content URL (eg_ pieces removed, the rest as written),
    its eg_sig, and its attributes in URL order (values as written, which
    for the vectors are unreserved text)."""
    base, _, query = url.partition("?")
    kept: List[str] = []
    sig = ""
    attrs: List[Tuple[str, str]] = []
    for piece in query.split("&"):
        if piece.startswith("eg_sig="):
            sig = piece[len("eg_sig=") :]
        elif piece.startswith("eg_attr."):
            name, _, value = piece[len("eg_attr.") :].partition("=")
            attrs.append((name, value))
        elif not piece.startswith("eg_"):
            kept.append(piece)
    return base + ("?" + "&".join(kept) if kept else ""), sig, attrs


class Egj1Vectors(unittest.TestCase):
    def test_the_file_has_30_cases(self) -> None:
        self.assertEqual(EGJ1["scheme"], "EGJ1-HS256")
        self.assertEqual(len(EGJ1["cases"]), 30)

    def test_every_verdict_and_forward(self) -> None:
        for c in EGJ1["cases"]:
            with self.subTest(c["name"]):
                self.assertEqual(verdict(EGJ1, c), c["expect"])
                if c["expect"] == "ok":
                    v = verify_embed_url(c["url"], keys=EGJ1["keys"], now=c["now"])
                    self.assertEqual(v.scheme, "EGJ1")
                    self.assertEqual(v.forward, c["forward"])

    def test_ok_cases_have_a_forward(self) -> None:
        for c in EGJ1["cases"]:
            if c["expect"] == "ok":
                self.assertIn("forward", c, c["name"])

    def test_sign_reproduces_the_vectors_byte_for_byte(self) -> None:
        common: Dict[str, Any] = dict(
            kid=LIVE, secret=SECRET, sub="user-42", nonce="Yc1mB0sD7rX2aQ9vT4kL", now=1767225000
        )
        cases: List[Tuple[str, str, Dict[str, Any]]] = [
            ("basic", "https://embed.example.com/d/sales?orgId=1", {}),
            ("no params", "https://embed.example.com/d/sales", {}),
            (
                "params needing escapes",
                "https://embed.example.com/d/sales?q=a+b%2Bc%2F%C3%BC&empty=",
                {},
            ),
            (
                "array params, attributes, session",
                "https://embed.example.com/d/sales?var-region=emea&var-region=apac&orgId=1",
                {"attrs": {"tenant": "acme", "role": "viewer"}, "session": 1800},
            ),
        ]
        for name, url, extra in cases:
            with self.subTest(name):
                self.assertEqual(sign_embed_jwt(url, **common, **extra), case(EGJ1, name)["url"])


if __name__ == "__main__":
    unittest.main()
