"""The signers: round trips through the verifier, defaults, the order of
the eg_ parameters, refusals with reason codes, and secrets that never
show."""

from __future__ import annotations

import json
import random
import time
import unittest
from typing import Any, Callable, Dict, List, Tuple
from urllib.parse import parse_qsl, urlsplit

import embedgate
from embedgate import (
    EmbedError,
    EmbedKey,
    generate_nonce,
    sign_embed_jwt,
    sign_embed_url,
    string_to_sign,
    verify_embed_url,
)
from embedgate import base64url

from .support import KEYS, KID, NOW, SECRET, rand_attrs, rand_sub, rand_url

Signer = Callable[..., str]
SIGNERS: List[Tuple[str, Signer]] = [("EG1", sign_embed_url), ("EGJ1", sign_embed_jwt)]


def claims_of(url: str) -> Dict[str, Any]:
    token = url.split("eg_jwt=", 1)[1].split("#", 1)[0]
    payload = base64url.decode_canonical(token.split(".")[1])
    assert payload is not None
    return dict(json.loads(payload))


class RoundTrips(unittest.TestCase):
    def test_generated_requests_verify_with_what_was_signed(self) -> None:
        rng = random.Random(7)
        for scheme, sign in SIGNERS:
            for i in range(200):
                url, sub, attrs = rand_url(rng), rand_sub(rng), rand_attrs(rng)
                session = rng.choice([None, 0, 60, 86400])
                with self.subTest(scheme=scheme, i=i, url=url):
                    signed = sign(
                        url, kid=KID, secret=SECRET, sub=sub, now=NOW, session=session, attrs=attrs
                    )
                    v = verify_embed_url(signed, keys=KEYS, now=NOW)
                    self.assertEqual(v.scheme, scheme)
                    self.assertEqual((v.kid, v.sub, v.exp), (KID, sub, NOW + 300))
                    self.assertEqual(dict(v.attrs), dict(attrs))
                    self.assertEqual(v.requested_session, session)
                    self.assertEqual(v.session, 3600 if session is None else min(session, 3600))
                    # The content URL forwards the same path and query either way.
                    content = string_to_sign(url.partition("#")[0]).split("\n")
                    self.assertEqual((v.path, v.query), (content[2], content[3]))

    def test_both_schemes_forward_the_same_content(self) -> None:
        url = "https://Embed.Example.com:443/d/%73ales%7e/x?b=2&a=1+1&a=0&flag&q=%C3%BC"
        eg1 = verify_embed_url(
            sign_embed_url(url, kid=KID, secret=SECRET, sub="u", now=NOW), keys=KEYS, now=NOW
        )
        egj1 = verify_embed_url(
            sign_embed_jwt(url, kid=KID, secret=SECRET, sub="u", now=NOW), keys=KEYS, now=NOW
        )
        self.assertEqual(eg1.forward, "/d/sales~/x?a=0&a=1%201&b=2&flag=&q=%C3%BC")
        self.assertEqual(egj1.forward, eg1.forward)
        self.assertEqual((eg1.host, egj1.host), ("embed.example.com", "embed.example.com"))

    def test_secret_as_str_or_bytes_signs_alike(self) -> None:
        for _, sign in SIGNERS:
            a = sign("https://h/d", kid=KID, secret=SECRET, sub="u", now=NOW, nonce="n" * 16)
            b = sign(
                "https://h/d", kid=KID, secret=SECRET.encode(), sub="u", now=NOW, nonce="n" * 16
            )
            self.assertEqual(a, b)
        # A non-ASCII secret is keyed with its UTF-8 bytes.
        url = sign_embed_url("https://h/d", kid=KID, secret="sécrêt", sub="u", now=NOW)
        verify_embed_url(url, keys={KID: "sécrêt".encode()}, now=NOW)
        with self.assertRaises(EmbedError) as e:
            verify_embed_url(url, keys={KID: "secret"}, now=NOW)
        self.assertEqual(e.exception.reason, "bad_signature")


class Eg1Shape(unittest.TestCase):
    def test_eg_parameters_in_the_rust_signers_order_before_eg_sig_and_the_fragment(self) -> None:
        # As crates/embedgate-core/src/signer.rs's
        # writes_the_eg_parameters_in_the_spec_order_before_eg_sig.
        url = sign_embed_url(
            "https://e.x/p?z=1#frag",
            kid="ek_live_4f9c2a",
            secret="q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo",
            sub="a b",
            ttl=5,
            now=0,
            nonce="Yc1mB0sD7rX2aQ9vT4kL",
            session=60,
            attrs=[("zz", "1"), ("aa", "2 3")],
        )
        head, _, sig = url.partition("&eg_sig=")
        self.assertEqual(
            head,
            "https://e.x/p?z=1&eg_kid=ek_live_4f9c2a&eg_sub=a%20b&eg_exp=5"
            "&eg_nonce=Yc1mB0sD7rX2aQ9vT4kL&eg_session=60&eg_attr.zz=1&eg_attr.aa=2%203",
        )
        self.assertEqual(len(sig), 43 + len("#frag"))
        self.assertTrue(sig.endswith("#frag"))

    def test_the_url_is_kept_as_written(self) -> None:
        for url, joined in [
            ("https://h/d", "https://h/d?eg_kid="),
            ("https://h", "https://h?eg_kid="),
            ("https://h/d?", "https://h/d?&eg_kid="),
            ("https://h/d?a=1&", "https://h/d?a=1&&eg_kid="),
            ("https://H:443/d/%7e?A=%7e+x", "https://H:443/d/%7e?A=%7e+x&eg_kid="),
        ]:
            with self.subTest(url):
                self.assertTrue(
                    sign_embed_url(url, kid=KID, secret=SECRET, sub="u", now=NOW).startswith(joined)
                )

    def test_defaults_ttl_300_from_the_clock_and_a_fresh_nonce(self) -> None:
        before = int(time.time())
        a = dict(
            parse_qsl(
                urlsplit(sign_embed_url("https://h/d", kid=KID, secret=SECRET, sub="u")).query
            )
        )
        b = dict(
            parse_qsl(
                urlsplit(sign_embed_url("https://h/d", kid=KID, secret=SECRET, sub="u")).query
            )
        )
        self.assertTrue(before + 300 <= int(a["eg_exp"]) <= int(time.time()) + 300)
        self.assertRegex(a["eg_nonce"], r"\A[A-Za-z0-9_-]{22}\Z")
        self.assertNotEqual(a["eg_nonce"], b["eg_nonce"])
        self.assertRegex(generate_nonce(), r"\A[A-Za-z0-9_-]{22}\Z")
        c = dict(
            parse_qsl(
                urlsplit(
                    sign_embed_url("https://h/d", kid=KID, secret=SECRET, sub="u", ttl=7, now=100.9)
                ).query
            )
        )
        self.assertEqual(c["eg_exp"], "107")

    def test_attrs_as_a_mapping_or_pairs(self) -> None:
        a = sign_embed_url(
            "https://h/d",
            kid=KID,
            secret=SECRET,
            sub="u",
            now=NOW,
            nonce="n" * 16,
            attrs={"b": "1", "a": "2"},
        )
        b = sign_embed_url(
            "https://h/d",
            kid=KID,
            secret=SECRET,
            sub="u",
            now=NOW,
            nonce="n" * 16,
            attrs=[("b", "1"), ("a", "2")],
        )
        self.assertEqual(a, b)
        self.assertIn("&eg_attr.b=1&eg_attr.a=2&", a)


class Egj1Shape(unittest.TestCase):
    def test_header_claims_and_url(self) -> None:
        url = sign_embed_jwt(
            "https://EMBED.example.com:8443/d/%73ales?b=2&a=1&b=1&flag#top",
            kid=KID,
            secret=SECRET,
            sub="user-42",
            now=NOW,
            ttl=120,
            nonce="Yc1mB0sD7rX2aQ9vT4kL",
            session=900,
            attrs={"tenant": "acme"},
        )
        head, _, rest = url.partition("?eg_jwt=")
        self.assertEqual(head, "https://EMBED.example.com:8443/d/sales")
        token, _, fragment = rest.partition("#")
        self.assertEqual(fragment, "top")
        header = base64url.decode_canonical(token.split(".")[0])
        self.assertEqual(header, b'{"alg":"HS256","kid":"ek_py_cross_check","typ":"JWT"}')
        self.assertEqual(
            claims_of(url),
            {
                "aud": "embed.example.com:8443",
                "path": "/d/sales",
                "params": {"b": ["2", "1"], "a": "1", "flag": ""},
                "sub": "user-42",
                "exp": NOW + 120,
                "jti": "Yc1mB0sD7rX2aQ9vT4kL",
                "attrs": {"tenant": "acme"},
                "session": 900,
            },
        )
        self.assertEqual(
            verify_embed_url(url, keys=KEYS, now=NOW).forward, "/d/sales?a=1&b=1&b=2&flag="
        )

    def test_no_query_no_params(self) -> None:
        url = sign_embed_jwt("https://h", kid=KID, secret=SECRET, sub="u", now=NOW)
        self.assertTrue(url.startswith("https://h/?eg_jwt="))
        self.assertNotIn("params", claims_of(url))
        self.assertEqual(verify_embed_url(url, keys=KEYS, now=NOW).forward, "/")


class Refusals(unittest.TestCase):
    """The signers refuse what a verifier would refuse, as malformed."""

    def refused(self, sign: Signer, **change: Any) -> EmbedError:
        args: Dict[str, Any] = dict(url="https://h/d?x=1", kid=KID, secret=SECRET, sub="u", now=NOW)
        args.update(change)
        url = args.pop("url")
        with self.assertRaises(EmbedError) as e:
            sign(url, **args)
        self.assertEqual(e.exception.reason, "malformed")
        return e.exception

    def test_bad_fields(self) -> None:
        changes: List[Dict[str, Any]] = [
            {"kid": ""},
            {"kid": "k" * 65},
            {"kid": "ek live"},
            {"kid": "ek_é"},
            {"sub": ""},
            {"sub": "x" * 257},
            {"sub": "é" * 129},
            {"sub": "a\nb"},
            {"sub": "a\x00b"},
            {"sub": "a\x7fb"},
            {"sub": "\ud800"},
            {"nonce": "n" * 15},
            {"nonce": "n" * 129},
            {"nonce": "n" * 15 + "."},
            {"attrs": {"A": "x"}},
            {"attrs": {"": "x"}},
            {"attrs": {"a" * 65: "x"}},
            {"attrs": {"a.b": "x"}},
            {"attrs": {"a": "x\ty"}},
            {"attrs": {"a": "\udfff"}},
            {"attrs": [("a", "1"), ("a", "1")]},
            {"session": -1},
            {"ttl": -1},
        ]
        for scheme, sign in SIGNERS:
            for change in changes:
                with self.subTest(scheme=scheme, change=change):
                    self.refused(sign, **change)
        # Within the limits is fine.
        sign_embed_url(
            "https://h/d",
            kid="k" * 64,
            secret=SECRET,
            sub="é" * 128,
            nonce="n" * 128,
            now=NOW,
            attrs={"a" * 64: ""},
        )

    def test_urls_a_verifier_refuses(self) -> None:
        for scheme, sign in SIGNERS:
            for url in [
                "https://h/d?eg_kid=x",
                "https://h/d?a=1&eg_sig=" + "A" * 43,
                "https://h/d?eg%5Fsub=admin",
                "https://h/d?eg_jwt=a.b.c",
                "https://h/d/../admin",
                "https://h/d/%2E%2e/admin",
                "https://h/d/./x",
                "https://h/d/..;x/secret",
                "https://h/d/%2e%2e;jsessionid=1/secret",
                "https://h/d/..%3Bx/secret",
                "https://h/d/a%2fb",
                "https://h/d/a%5Cb",
                "https://h/d/a\\b",
                "https://h/d//b",
                "https://h/d/%0a",
                "https://h/d/\x7f",
                "https://h/d/%g0",
                "https://h/d?q=%",
                "https://u:p@h/d",
                "https:///d",
                "h/d",
                "1h://h/d",
                "https://h h/d",
                "https://h/d\ud800",
            ]:
                with self.subTest(scheme=scheme, url=url):
                    self.refused(sign, url=url)

    def test_egj1_params_must_be_utf8(self) -> None:
        self.refused(sign_embed_jwt, url="https://h/d?q=%FF")
        self.refused(sign_embed_jwt, url="https://h/d?%C3=1")
        # EG1 signs any bytes in content parameters.
        url = sign_embed_url("https://h/d?q=%FF", kid=KID, secret=SECRET, sub="u", now=NOW)
        self.assertEqual(verify_embed_url(url, keys=KEYS, now=NOW).query, "q=%FF")

    def test_egj1_times_are_json_safe_integers(self) -> None:
        self.refused(sign_embed_jwt, now=2**53, ttl=1)
        sign_embed_url("https://h/d", kid=KID, secret=SECRET, sub="u", now=2**53, ttl=1)

    def test_wrong_argument_types_are_type_errors(self) -> None:
        changes: List[Dict[str, Any]] = [
            {"secret": 42},
            {"sub": 42},
            {"kid": None},
            {"url": b"https://h/"},
            {"ttl": True},
            {"now": "1"},
        ]
        for change in changes:
            args: Dict[str, Any] = dict(url="https://h/d", kid=KID, secret=SECRET, sub="u", now=NOW)
            args.update(change)
            url = args.pop("url")
            with self.subTest(change=change), self.assertRaises((TypeError, EmbedError)):
                sign_embed_url(url, **args)
        with self.assertRaises(ValueError):
            sign_embed_url("https://h/d", kid=KID, secret="", sub="u")


class Secrets(unittest.TestCase):
    """No secret in any repr, message or error."""

    def test_errors_and_reprs_never_hold_the_secret(self) -> None:
        secret = "VerySecretValue-0123456789abcdef"
        texts: List[str] = []
        bads: List[Dict[str, Any]] = [
            {"sub": ""},
            {"url": "nope"},
            {"kid": "bad kid"},
            {"secret": 3},
        ]
        for bad in bads:
            args: Dict[str, Any] = dict(kid=KID, secret=secret, sub="u", now=NOW)
            args.update(bad)
            url = args.pop("url", "https://h/d")
            for _, sign in SIGNERS:
                try:
                    sign(url, **args)
                except Exception as e:  # noqa: BLE001 - every kind of error is inspected
                    texts += [str(e), repr(e)]
                else:
                    self.fail(f"signed with {bad}")
        key = EmbedKey(secret.encode(), scopes=("/d",))
        texts.append(repr(key))
        url = sign_embed_url("https://h/d", kid=KID, secret=secret, sub="u", now=NOW)
        v = verify_embed_url(url, keys={KID: key}, now=NOW)
        texts.append(repr(v))
        for t in texts:
            self.assertNotIn(secret, t)
        # The nonce stays out of the verified value's repr too.
        self.assertNotIn(v.nonce, repr(v))

    def test_the_public_api(self) -> None:
        self.assertEqual(embedgate.__version__, "0.1.0")
        for name in embedgate.__all__:
            self.assertTrue(hasattr(embedgate, name), name)
        self.assertEqual(
            embedgate.REASONS,
            (
                "malformed",
                "unknown_key",
                "key_inactive",
                "bad_signature",
                "expired",
                "exp_too_far",
                "replayed",
                "out_of_scope",
            ),
        )
        e = EmbedError("expired", "the URL has expired")
        self.assertEqual(
            (e.reason, e.detail, str(e)),
            ("expired", "the URL has expired", "expired: the URL has expired"),
        )


if __name__ == "__main__":
    unittest.main()
