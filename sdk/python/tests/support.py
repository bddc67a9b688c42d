"""What the test modules share: the vector files, the Rust CLI, and inputs
generated to exercise the encoding rules."""

from __future__ import annotations

import json
import os
import random
import subprocess
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, cast
from urllib.parse import quote

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
VECTORS = os.path.join(ROOT, "tests", "vectors")

NOW = 1767225000
KID = "ek_py_cross_check"
SECRET = "PyCr0ssCheckSecretPyCr0ssCheck42"
KEYS: Dict[str, Any] = {KID: {"secret": SECRET, "active": True}}


def load_vectors(name: str) -> Dict[str, Any]:
    """``tests/vectors/<name>``: the project's copies of the shared files."""
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return cast(Dict[str, Any], json.load(f))


# -- the Rust CLI --------------------------------------------------------------


def embedgate_bin() -> str:
    """``$EMBEDGATE_BIN``, else ``target/debug/embedgate``; a missing binary
    fails the test (it is never skipped)."""
    path = os.environ.get("EMBEDGATE_BIN", os.path.join(ROOT, "target", "debug", "embedgate"))
    if not os.path.isfile(path):
        raise RuntimeError(f"embedgate binary not found at {path} (cargo build -p embedgate)")
    return path


class Cli:
    """`embedgate sign` and `embedgate verify` with the test key."""

    def __init__(self, keys: Optional[Mapping[str, Any]] = None) -> None:
        self.bin = embedgate_bin()
        self.tmp = tempfile.TemporaryDirectory()
        self.keys_file = os.path.join(self.tmp.name, "keys.json")
        with open(self.keys_file, "w", encoding="utf-8") as f:
            json.dump(dict(keys if keys is not None else KEYS), f)

    def close(self) -> None:
        self.tmp.cleanup()

    def sign(
        self,
        url: str,
        *,
        sub: str,
        exp: int,
        nonce: str,
        session: Optional[int] = None,
        attrs: Sequence[Tuple[str, str]] = (),
        kid: str = KID,
        secret: str = SECRET,
        extra: Sequence[str] = (),
    ) -> "subprocess.CompletedProcess[str]":
        # --flag=value, so a value starting with '-' is not read as a flag.
        args = [
            self.bin,
            "sign",
            *extra,
            url,
            f"--kid={kid}",
            f"--sub={sub}",
            f"--exp={exp}",
            f"--nonce={nonce}",
        ]
        if session is not None:
            args.append(f"--session={session}")
        args += [f"--attr={n}={v}" for n, v in attrs]
        env = dict(os.environ, EMBEDGATE_SECRET=secret)
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)

    def verify(self, url: str, now: int = NOW, *extra: str) -> Dict[str, Any]:
        out = subprocess.run(
            [self.bin, "verify", url, "--keys", self.keys_file, "--now", str(now), *extra],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if out.returncode not in (0, 1):
            raise AssertionError(f"embedgate verify exited {out.returncode}: {out.stderr}")
        result = cast(Dict[str, Any], json.loads(out.stdout))
        if (out.returncode == 0) != (result["result"] == "ok"):
            raise AssertionError(f"exit status {out.returncode} disagrees with {result['result']}")
        return result


# -- generated inputs ------------------------------------------------------------

# Text exercising the encoding rules: reserved and sub-delimiter characters,
# escapes' own '%', '+', non-ASCII in 2, 3 and 4 bytes of UTF-8.
TEXT = "abcXYZ019 +&=%/?:~._-!*'()$,;@[]\"<>^`{|}é€中😀\u00a0\u200b"


def rand_text(rng: random.Random, lo: int, hi: int, alphabet: str = TEXT) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def rand_sub(rng: random.Random) -> str:
    """1-256 bytes of UTF-8, no control characters."""
    while True:
        sub = rand_text(rng, 1, 40)
        if 1 <= len(sub.encode("utf-8")) <= 256:
            return sub


def rand_attrs(rng: random.Random) -> List[Tuple[str, str]]:
    names = rng.sample(["tenant", "region", "role", "a", "z-9_", "x" * 64], rng.randint(0, 4))
    return [(n, rand_text(rng, 0, 12)) for n in names]


def _segment(rng: random.Random) -> str:
    while True:
        kind = rng.random()
        if kind < 0.15:
            seg = rng.choice(
                ["%41b", "a%7e", "x%3a%3B", "%e2%82%AC", "sales;v=2", ".a", "..b", "a."]
            )
        else:
            seg = quote(rand_text(rng, 1, 8).replace("/", "-"), safe="!$&'()*+,;=:@~")
        # Never a dot segment, also with ;parameters (EG1 1.1).
        if seg.split(";", 1)[0] not in (".", "..", "%2E", "%2e"):
            return seg


def rand_query(rng: random.Random) -> str:
    """An odd but valid query: empty pieces, flags, '=' in values, '+',
    lower-case hex, raw non-ASCII, repeated names; never an eg_ name."""
    pieces: List[str] = []
    for _ in range(rng.randint(0, 6)):
        name = rand_text(rng, 1, 6)
        if name.startswith("eg_"):
            name = "x" + name
        kind = rng.random()
        enc_name = quote(name, safe="")
        if kind < 0.1:
            pieces.append("")  # an empty piece: '&&'
        elif kind < 0.2:
            pieces.append(enc_name)  # a flag without '='
        elif kind < 0.3:
            pieces.append(enc_name + "=a=b+c")  # '=' in the value, '+' is a space
        elif kind < 0.4:
            pieces.append(enc_name + "=" + quote(rand_text(rng, 0, 6), safe="").lower())
        elif kind < 0.5:
            pieces.append("dup=" + rng.choice(["2", "1", "10", ""]))
        elif kind < 0.6:
            pieces.append(
                enc_name + "=" + rng.choice(["ü", "中文", "a b", "~", "%7E", "%7e", "?x"])
            )
        else:
            pieces.append(enc_name + "=" + quote(rand_text(rng, 0, 10), safe=""))
    return "&".join(pieces)


def rand_url(rng: random.Random) -> str:
    host = rng.choice(
        [
            "embed.example.com",
            "EMBED.Example.com:443",
            "localhost:8080",
            "dash.example.org:80",
            "[::1]:8443",
        ]
    )
    path = "/" + "/".join(_segment(rng) for _ in range(rng.randint(0, 4)))
    if rng.random() < 0.2:
        path += "/"
    query = rand_query(rng)
    url = "https://" + host + path.replace("//", "/")
    shape = rng.random()
    if shape < 0.1:
        url += "?"  # an empty query
    elif query:
        url += "?" + query + ("&" if shape < 0.2 else "")
    if rng.random() < 0.15:
        url += "#frag?x=1&y"
    return url


def rand_nonce(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(16, 128)))
