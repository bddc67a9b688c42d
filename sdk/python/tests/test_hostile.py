"""An attacker's input: every refusal is an EmbedError with the spec's
reason, in the spec's order, never another exception; and the verifier's
policy (times, keys, scopes, sessions)."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import unittest
from typing import Any, Dict, List, Optional, Tuple

from embedgate import EmbedError, EmbedKey, sign_embed_jwt, sign_embed_url, verify_embed_url
from embedgate.base64url import encode as b64

from .support import KEYS, KID, NOW, SECRET, rand_url

HEADER = b'{"alg":"HS256","kid":"' + KID.encode() + b'","typ":"JWT"}'


def claims(**change: Any) -> Dict[str, Any]:
    base: Dict[str, Any] = {"aud": "h", "path": "/d", "sub": "u", "exp": NOW + 60, "jti": "j" * 16}
    base.update(change)
    return {k: v for k, v in base.items() if v is not ...}


def forge(payload: bytes, header: bytes = HEADER, secret: str = SECRET, path: str = "/d") -> str:
    """An EGJ1 URL with this exact header and payload JSON, signed."""
    signing_input = b64(header) + "." + b64(payload)
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"https://h{path}?eg_jwt={signing_input}.{b64(sig)}"


def reason(url: str, keys: Optional[Dict[str, Any]] = None, now: int = NOW, **policy: int) -> str:
    try:
        verify_embed_url(url, keys=KEYS if keys is None else keys, now=now, **policy)
    except EmbedError as e:
        return e.reason
    return "ok"


class Egj1Hostile(unittest.TestCase):
    def test_well_signed_payloads_that_break_the_claim_rules_are_malformed(self) -> None:
        self.assertEqual(reason(forge(json.dumps(claims()).encode())), "ok")
        for name, payload in [
            ("array", b"[]"),
            ("string", b'"x"'),
            (
                "repeated claim",
                b'{"aud":"h","path":"/d","sub":"u","sub":"admin","exp":%d,"jti":"jjjjjjjjjjjjjjjj"}'
                % (NOW + 60),
            ),
            (
                "repeated in params",
                json.dumps(claims()).encode()[:-1] + b',"params":{"a":"1","a":"2"}}',
            ),
            ("NaN", json.dumps(claims()).encode()[:-1] + b',"x":NaN}'),
            ("Infinity exp", json.dumps(claims(exp=...)).encode()[:-1] + b',"exp":Infinity}'),
            ("BOM", b"\xef\xbb\xbf" + json.dumps(claims()).encode()),
            ("UTF-16", json.dumps(claims()).encode("utf-16")),
            ("not UTF-8", json.dumps(claims(sub="u")).encode().replace(b'"u"', b'"\xff"')),
            ("lone surrogate sub", json.dumps(claims(sub="\ud800"), ensure_ascii=True).encode()),
            ("lone surrogate in ignored claim", json.dumps(claims(x="\udc00")).encode()),
            ("trailing garbage", json.dumps(claims()).encode() + b"x"),
            (
                "deep nesting",
                json.dumps(claims()).encode()[:-1]
                + b',"x":'
                + b"[" * 100000
                + b"]" * 100000
                + b"}",
            ),
        ]:
            with self.subTest(name):
                self.assertEqual(reason(forge(payload)), "malformed")

        changes: List[Tuple[str, Dict[str, Any]]] = [
            ("aud missing", {"aud": ...}),
            ("aud array", {"aud": ["h"]}),
            ("path missing", {"path": ...}),
            ("path refused by EG1 §2", {"path": "/d/../d"}),
            ("path ..;", {"path": "/x/..;/d"}),
            ("path relative", {"path": "d"}),
            ("sub missing", {"sub": ...}),
            ("sub empty", {"sub": ""}),
            ("sub too long", {"sub": "x" * 257}),
            ("sub control", {"sub": "a\u0000"}),
            ("sub number", {"sub": 42}),
            ("exp missing", {"exp": ...}),
            ("exp float", {"exp": float(NOW + 60)}),
            ("exp bool", {"exp": True}),
            ("exp negative", {"exp": -1}),
            ("exp above 2^53", {"exp": 2**53 + 1}),
            ("exp null", {"exp": None}),
            ("jti short", {"jti": "j" * 15}),
            ("jti alphabet", {"jti": "j" * 15 + "."}),
            ("jti number", {"jti": 1234567890123456}),
            ("nbf string", {"nbf": str(NOW)}),
            ("nbf null", {"nbf": None}),
            ("session negative", {"session": -5}),
            ("session float", {"session": 1.5}),
            ("session null", {"session": None}),
            ("params array", {"params": [["a", "1"]]}),
            ("params null", {"params": None}),
            ("params nested", {"params": {"a": {"b": "1"}}}),
            ("params nested array", {"params": {"a": [["1"]]}}),
            ("params number", {"params": {"a": 1}}),
            ("params eg_ name", {"params": {"eg_sub": "admin"}}),
            ("params eg_jwt name", {"params": {"eg_jwt": "x"}}),
            ("attrs name upper", {"attrs": {"Tenant": "a"}}),
            ("attrs name dot", {"attrs": {"a.b": "a"}}),
            ("attrs value number", {"attrs": {"a": 1}}),
            ("attrs value control", {"attrs": {"a": "x\ny"}}),
            ("attrs array", {"attrs": ["a"]}),
        ]
        for name, change in changes:
            with self.subTest(name):
                self.assertEqual(reason(forge(json.dumps(claims(**change)).encode())), "malformed")

    def test_other_claims_are_ignored_and_optional_ones_are_read(self) -> None:
        url = forge(
            json.dumps(
                claims(iat=NOW, iss="app", x={"nested": [1, None]}, nbf=NOW, session=10)
            ).encode()
        )
        v = verify_embed_url(url, keys=KEYS, now=NOW)
        self.assertEqual((v.session, v.requested_session), (10, 10))
        # Integers up to 2^53 and params arrays (empty too) are fine.
        url = forge(
            json.dumps(claims(session=2**53, params={"a": [], "b": ["2", "1"], "é": "ü"})).encode()
        )
        v = verify_embed_url(url, keys=KEYS, now=NOW)
        self.assertEqual((v.session, v.query), (3600, "%C3%A9=%C3%BC&b=1&b=2"))

    def test_headers_are_checked_before_the_mac(self) -> None:
        payload = json.dumps(claims()).encode()
        for name, header in [
            ("alg none", b'{"alg":"none","kid":"%s"}' % KID.encode()),
            ("alg lower case", b'{"alg":"hs256","kid":"%s"}' % KID.encode()),
            ("alg RS256", b'{"alg":"RS256","kid":"%s"}' % KID.encode()),
            ("alg missing", b'{"kid":"%s"}' % KID.encode()),
            ("kid missing", b'{"alg":"HS256"}'),
            ("kid number", b'{"alg":"HS256","kid":1}'),
            ("kid alphabet", b'{"alg":"HS256","kid":"a b"}'),
            ("typ other", b'{"alg":"HS256","kid":"%s","typ":"JOSE"}' % KID.encode()),
            ("crit", b'{"alg":"HS256","kid":"%s","crit":["b64"]}' % KID.encode()),
            ("jwk", b'{"alg":"HS256","kid":"%s","jwk":{}}' % KID.encode()),
            ("repeated alg", b'{"alg":"none","alg":"HS256","kid":"%s"}' % KID.encode()),
            ("repeated kid", b'{"alg":"HS256","kid":"other","kid":"%s"}' % KID.encode()),
            ("array", b"[]"),
            (
                "deep nesting",
                b'{"alg":"HS256","kid":"%s","typ":' % KID.encode()
                + b"[" * 100000
                + b"]" * 100000
                + b"}",
            ),
            ("not JSON", b"alg=HS256"),
        ]:
            with self.subTest(name):
                # Signed with the right key or not, the header decides first.
                self.assertEqual(reason(forge(payload, header)), "malformed")
                self.assertEqual(reason(forge(payload, header, secret="wrong")), "malformed")

    def test_token_shapes(self) -> None:
        good = forge(json.dumps(claims()).encode())
        head, token = good.split("?eg_jwt=")
        h, p, s = token.split(".")
        last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        stray = last[last.index(s[-1]) + 1]  # same 4 data bits, a stray low bit
        for name, query in [
            ("two parts", f"eg_jwt={h}.{p}"),
            ("four parts", f"eg_jwt={h}.{p}.{s}.{s}"),
            ("empty", "eg_jwt="),
            ("flag", "eg_jwt"),
            ("padding", f"eg_jwt={h}.{p}.{s}="),
            ("stray bits in the signature", f"eg_jwt={h}.{p}.{s[:-1]}{stray}"),
            ("short signature", f"eg_jwt={h}.{p}.{s[:-4]}"),
            ("standard base64", f"eg_jwt={h}.{p}.{s[:-1]}+"),
            ("space", f"eg_jwt={h}.{p}.+{s}"),
            ("non-ASCII", f"eg_jwt={h}.{p}.%C3%A9{s}"),
            ("another parameter", f"eg_jwt={token}&a=1"),
            ("an eg_ parameter", f"eg_jwt={token}&eg_kid={KID}"),
            ("eg_sig beside it", f"eg_sig={s}&eg_jwt={token}"),
            ("twice", f"eg_jwt={token}&eg_jwt={token}"),
            ("bad escape", f"eg_jwt={token}&x=%zz"),
        ]:
            with self.subTest(name):
                self.assertEqual(reason(f"{head}?{query}"), "malformed")
        # Empty pieces are dropped and escapes decoded: the same token.
        for query in [f"&eg_jwt={token}&", f"eg%5Fjwt={token}", f"eg_jwt={h}%2E{p}%2e{s}"]:
            with self.subTest(query):
                self.assertEqual(reason(f"{head}?{query}"), "ok")

    def test_the_payload_is_read_only_after_its_mac_matched(self) -> None:
        for payload in [b"not json", b"[]", b'{"sub":1}', b"{" * 100000]:
            with self.subTest(payload[:10]):
                self.assertEqual(reason(forge(payload, secret="another secret")), "bad_signature")
                self.assertEqual(reason(forge(payload)), "malformed")

    def test_the_binding_to_host_and_path_is_a_signature(self) -> None:
        payload = json.dumps(claims(aud="H")).encode()
        self.assertEqual(reason(forge(payload)), "bad_signature")
        # Both sides are normalised: %64 is d, /d/ is not /d.
        self.assertEqual(reason(forge(json.dumps(claims(path="/%64")).encode())), "ok")
        self.assertEqual(reason(forge(json.dumps(claims()).encode(), path="/%64")), "ok")
        self.assertEqual(reason(forge(json.dumps(claims()).encode(), path="/d/")), "bad_signature")
        self.assertEqual(reason(forge(json.dumps(claims(path="/d/")).encode())), "bad_signature")


class Eg1Hostile(unittest.TestCase):
    def test_mutated_urls_raise_only_embed_errors(self) -> None:
        rng = random.Random(3)
        alphabet = "%&=?#/;.+~\\\x00\x7f é😀aZ09_-"
        for i in range(400):
            signed = sign_embed_url(rand_url(rng), kid=KID, secret=SECRET, sub="u", now=NOW)
            chars = list(signed)
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(len(chars))
                op = rng.random()
                if op < 0.4:
                    chars[at] = rng.choice(alphabet)
                elif op < 0.7:
                    chars.insert(at, rng.choice(alphabet))
                else:
                    del chars[at]
            mutated = "".join(chars)
            with self.subTest(i=i, url=mutated):
                got = reason(mutated)
                if got == "ok":
                    # Only changes that keep the meaning may pass: same string to sign.
                    from embedgate import string_to_sign

                    self.assertEqual(
                        string_to_sign(mutated.partition("#")[0]),
                        string_to_sign(signed.partition("#")[0]),
                    )

    def test_eg_parameter_rules(self) -> None:
        def signed_with(query: str) -> str:
            # Sign the exact eg_ parameters by hand, so only the rule decides.
            from embedgate import string_to_sign

            url = "https://h/d?" + query
            sts = string_to_sign(url)
            return (
                url
                + "&eg_sig="
                + b64(hmac.new(SECRET.encode(), sts.encode(), hashlib.sha256).digest())
            )

        ok = f"eg_kid={KID}&eg_sub=u&eg_exp={NOW + 60}&eg_nonce={'n' * 16}"
        self.assertEqual(reason(signed_with(ok)), "ok")
        for name, query in [
            ("sub empty", ok.replace("eg_sub=u", "eg_sub=")),
            ("sub control", ok.replace("eg_sub=u", "eg_sub=u%09")),
            ("sub DEL", ok.replace("eg_sub=u", "eg_sub=%7F")),
            ("sub not UTF-8", ok.replace("eg_sub=u", "eg_sub=%C0%80")),
            ("sub surrogate", ok.replace("eg_sub=u", "eg_sub=%ED%A0%80")),
            ("sub 257 bytes", ok.replace("eg_sub=u", "eg_sub=" + "x" * 257)),
            ("exp sign", ok.replace("eg_exp=", "eg_exp=%2B")),
            ("exp above u64", ok.replace(f"eg_exp={NOW + 60}", "eg_exp=18446744073709551616")),
            ("exp empty", ok.replace(f"eg_exp={NOW + 60}", "eg_exp=")),
            ("session leading zero", ok + "&eg_session=060"),
            ("session negative", ok + "&eg_session=-1"),
            ("attr name empty", ok + "&eg_attr.=x"),
            ("attr name upper", ok + "&eg_attr.A=x"),
            ("attr repeated", ok + "&eg_attr.a=1&eg_attr.a=2"),
            ("attr control", ok + "&eg_attr.a=%0D"),
            ("kid non-ASCII", ok.replace(f"eg_kid={KID}", "eg_kid=%C3%A9")),
            ("nonce 129", ok.replace("n" * 16, "n" * 129)),
            ("eg_jwt is never EG1", ok + "&eg_jwt=x"),
            ("eg_ alone", ok + "&eg_=1"),
            ("eg_attr without a dot", ok + "&eg_attrx=1"),
        ]:
            with self.subTest(name):
                self.assertEqual(reason(signed_with(query)), "malformed")
        self.assertEqual(
            reason(signed_with(ok + "&eg_session=0&eg_attr.a=&eg_attr.b=%C3%A9")), "ok"
        )


class Policy(unittest.TestCase):
    def test_times_keys_scopes_and_sessions(self) -> None:
        for sign in (sign_embed_url, sign_embed_jwt):
            url = sign(
                "https://h/d/sales/q",
                kid=KID,
                secret=SECRET,
                sub="u",
                now=NOW,
                ttl=100,
                session=7200,
            )
            exp = NOW + 100
            with self.subTest(sign.__name__):
                self.assertEqual(reason(url, now=exp + 60), "ok")
                self.assertEqual(reason(url, now=exp + 61), "expired")
                self.assertEqual(reason(url, now=exp + 61, skew=61), "ok")
                self.assertEqual(reason(url, now=exp - 660), "ok")
                self.assertEqual(reason(url, now=exp - 661), "exp_too_far")
                self.assertEqual(reason(url, now=exp - 100, max_url_ttl=39), "exp_too_far")
                self.assertEqual(reason(url, keys={}), "unknown_key")
                self.assertEqual(
                    reason(url, keys={KID: {"secret": SECRET, "active": False}}), "key_inactive"
                )
                self.assertEqual(
                    reason(url, keys={KID: {"secret": SECRET, "expires_at": NOW - 1}}),
                    "key_inactive",
                )
                self.assertEqual(
                    reason(url, keys={KID: {"secret": SECRET, "expires_at": NOW}}), "ok"
                )
                self.assertEqual(reason(url, keys={KID: "other"}), "bad_signature")
                # Order: a bad signature is answered before any time rule.
                self.assertEqual(reason(url, keys={KID: "other"}, now=0), "bad_signature")
                for scopes, want in [
                    (["/d/sales"], "ok"),
                    (["/d/"], "ok"),
                    (["/x", "/d/sales/q"], "ok"),
                    (["/d/sale"], "out_of_scope"),
                    (["/d/sales/q/r"], "out_of_scope"),
                ]:
                    key = EmbedKey(SECRET.encode(), scopes=tuple(scopes))
                    self.assertEqual(reason(url, keys={KID: key}), want, scopes)
                v = verify_embed_url(url, keys=KEYS, now=NOW, max_session=600)
                self.assertEqual((v.session, v.requested_session), (600, 7200))

    def test_nbf(self) -> None:
        url = forge(json.dumps(claims(nbf=NOW + 60)).encode())
        self.assertEqual(reason(url), "ok")
        self.assertEqual(reason(url, now=NOW - 1), "expired")

    def test_bad_key_specs_and_now_are_caller_errors(self) -> None:
        url = sign_embed_url("https://h/d", kid=KID, secret=SECRET, sub="u", now=NOW)
        for spec in [
            {"secret": 1},
            {"secret": SECRET, "x": 1},
            {"secret": SECRET, "scopes": "/d"},
            {"secret": SECRET, "scopes": ["d"]},
            "",
        ]:
            with self.subTest(spec=spec), self.assertRaises((TypeError, ValueError)):
                verify_embed_url(url, keys={KID: spec}, now=NOW)  # type: ignore[dict-item]
        for now in ["1", None, float("nan"), True]:
            with self.subTest(now=now), self.assertRaises(TypeError):
                verify_embed_url(url, keys=KEYS, now=now)  # type: ignore[arg-type]


if __name__ == "__main__":
    unittest.main()
