"""Cross-check: URLs signed by `embedgate sign` verify with the independent
Python implementation (eg1.py), and URLs signed in Python verify with
`embedgate verify`; tampering is caught by both, and both give every shared
vector (EG1 revision 1.1) its verdict. Run by `cargo xtask test`."""

import json
import os
import random
import string
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import eg1  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("EMBEDGATE_BIN", os.path.join(ROOT, "target", "debug", "embedgate"))
VECTORS = os.path.join(ROOT, "tests", "vectors", "embed-url-v1.json")
NOW = 1767225000
KID = "ek_cross_check"
SECRET = "Cr0ssCheckSecretCr0ssCheckSecret"

# Content parameters and values exercising the encoding rules.
ALPHABET = string.ascii_letters + string.digits + " +&=%/?:~._-!*'()éü中😀"


def rand_text(rng, lo, hi):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(lo, hi)))


def rand_url(rng):
    from urllib.parse import quote

    segs = []
    for _ in range(rng.randint(0, 3)):
        s = rand_text(rng, 1, 6).replace("/", "-") + rng.choice(["", "", ";v=1"])
        if s.split(";", 1)[0] in (".", ".."):
            s = "x"
        segs.append(quote(s, safe="!$'()*,;:@~"))
    path = "/" + "/".join(segs)
    params = []
    for _ in range(rng.randint(0, 4)):
        name = rand_text(rng, 1, 6)
        if name.startswith("eg_"):
            name = "x" + name
        params.append(quote(name, safe="") + "=" + quote(rand_text(rng, 0, 8), safe=""))
    host = rng.choice(["embed.example.com", "EMBED.Example.com:443", "localhost:8080", "dash.example.org:80"])
    return "https://" + host + path + ("?" + "&".join(params) if params else "")


class CrossCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(BIN):
            raise RuntimeError("embedgate binary not found at %s (cargo build -p embedgate)" % BIN)
        cls.tmp = tempfile.mkdtemp()
        cls.keys_file = os.path.join(cls.tmp, "keys.json")
        with open(cls.keys_file, "w") as f:
            json.dump({KID: {"secret": SECRET, "active": True}}, f)

    def rust_sign(self, url, sub, exp, nonce, session=None, attrs=()):
        args = [BIN, "sign", url, "--kid", KID, "--sub", sub, "--exp", str(exp), "--nonce", nonce]
        if session is not None:
            args += ["--session", str(session)]
        for n, v in attrs:
            args += ["--attr", "%s=%s" % (n, v)]
        env = dict(os.environ, EMBEDGATE_SECRET=SECRET)
        out = subprocess.run(args, env=env, capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn(SECRET, out.stdout + out.stderr)
        return out.stdout.strip()

    def rust_verify(self, url):
        out = subprocess.run(
            [BIN, "verify", url, "--keys", self.keys_file, "--now", str(NOW)],
            capture_output=True,
            text=True,
        )
        self.assertIn(out.returncode, (0, 1), out.stderr)
        result = json.loads(out.stdout)
        self.assertEqual(out.returncode == 0, result["result"] == "ok")
        return result

    def test_python_implementation_passes_the_shared_vectors(self):
        with open(VECTORS) as f:
            v = json.load(f)
        self.assertEqual(len(v["cases"]), 35)
        for case in v["cases"]:
            got = eg1.verify(case["url"], v["keys"], case["now"], v["skew"], v["max_url_ttl"])
            self.assertEqual(got, case["expect"], case["name"])
            if "string_to_sign" in case:
                self.assertEqual(eg1.canonical(case["url"])[0], case["string_to_sign"], case["name"])

    def test_rust_signed_urls_verify_in_python(self):
        rng = random.Random(1)
        for i in range(40):
            url = rand_url(rng)
            sub = rand_text(rng, 1, 20)
            attrs = [("tenant", rand_text(rng, 0, 8)), ("region", "emea")][: rng.randint(0, 2)]
            signed = self.rust_sign(url, sub, NOW + 300, "Nonce%016d" % i, rng.choice([None, 600]), attrs)
            keys = {KID: {"secret": SECRET, "active": True}}
            self.assertEqual(eg1.verify(signed, keys, NOW), "ok", signed)
            # The string to sign is the same on both sides.
            self.assertEqual(self.rust_verify(signed)["string_to_sign"], eg1.canonical(signed)[0])
            tampered = signed.replace("eg_exp=%d" % (NOW + 300), "eg_exp=%d" % (NOW + 301))
            self.assertEqual(eg1.verify(tampered, keys, NOW), "bad_signature")

    def test_python_signed_urls_verify_in_rust(self):
        rng = random.Random(2)
        for i in range(40):
            url = rand_url(rng)
            sub = rand_text(rng, 1, 20)
            signed = eg1.sign(url, SECRET, KID, sub, NOW + 120, "PyNonce%016d" % i, 900, [("tenant", "acme")])
            result = self.rust_verify(signed)
            self.assertEqual(result["result"], "ok", signed)
            self.assertEqual(result["sub"], sub)
            self.assertEqual(result["attrs"], {"tenant": "acme"})
            self.assertEqual(result["session"], 900)
            tampered = signed.replace("eg_sub=", "eg_sub=x", 1)
            self.assertEqual(self.rust_verify(tampered)["result"], "bad_signature")


    def vector_verdicts(self, revision_1_1):
        with open(VECTORS) as f:
            v = json.load(f)
        keys_file = os.path.join(self.tmp, "vector-keys.json")
        with open(keys_file, "w") as f:
            json.dump(v["keys"], f)
        cases = [c for c in v["cases"] if (c["name"] in REVISION_1_1) == revision_1_1]
        self.assertEqual(len(cases), 5 if revision_1_1 else 30)
        for case in cases:
            with self.subTest(case["name"]):
                out = subprocess.run(
                    [BIN, "verify", case["url"], "--keys", keys_file, "--now", str(case["now"])],
                    capture_output=True,
                    text=True,
                )
                rust = json.loads(out.stdout)["result"]
                py = eg1.verify(case["url"], v["keys"], case["now"], v["skew"], v["max_url_ttl"])
                self.assertEqual((rust, py), (case["expect"], case["expect"]))

    def test_rust_and_python_agree_on_the_revision_1_0_vectors(self):
        self.vector_verdicts(revision_1_1=False)

    def test_rust_and_python_agree_on_the_revision_1_1_vectors(self):
        self.vector_verdicts(revision_1_1=True)

    def test_what_revision_1_1_forbids_is_malformed_to_both_even_when_signed(self):
        # Each carries a valid MAC over the string a 1.0 verifier would
        # build, so only the 1.1 rules can refuse it.
        keys = {KID: {"secret": SECRET, "active": True}}
        for path, path_as_signed, sub, attrs in [
            ("/d/..;x/secret", "/d/..;x/secret", "u", []),
            ("/d/%2E%2e;jsessionid=1/secret", "/d/..;jsessionid=1/secret", "u", []),
            ("/d/.;v=1", "/d/.;v=1", "u", []),
            ("/d", "/d", "user\n42", []),
            ("/d", "/d", "a\x7f", []),
            ("/d", "/d", "u", [("team", "x\ty")]),
        ]:
            signed = sign_as_1_0("https://embed.example.com" + path, path_as_signed, sub, attrs)
            with self.subTest(url=signed):
                self.assertEqual(eg1.verify(signed, keys, NOW), "malformed")
                self.assertEqual(self.rust_verify(signed)["result"], "malformed")


def sign_as_1_0(url, path_as_signed, sub, attrs):
    """eg1.sign, but the MAC covers `path_as_signed` as the path line, which
    1.1 refuses to produce: what a signer of revision 1.0 would send."""
    from urllib.parse import quote

    q = [("eg_kid", KID), ("eg_sub", sub), ("eg_exp", str(NOW + 60)), ("eg_nonce", "N" * 16)]
    q += [("eg_attr." + n, v) for n, v in attrs]
    url = url + "?" + "&".join("{}={}".format(n, quote(v, safe="")) for n, v in q)
    lines = eg1.canonical("https://embed.example.com/p?" + url.split("?", 1)[1])[0].split("\n")
    lines[2] = path_as_signed
    return url + "&eg_sig=" + eg1.signature(SECRET, "\n".join(lines))


# The cases revision 1.1 of EG1 added.
REVISION_1_1 = {
    "dot segment with parameters",
    "semicolon in an ordinary segment",
    "control byte in eg_sub",
    "attribute value not UTF-8",
    "signature with stray low bits",
}


if __name__ == "__main__":
    unittest.main()
