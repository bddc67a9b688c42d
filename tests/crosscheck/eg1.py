"""An independent EG1-HMAC-SHA256 implementation from the spec (revision
1.1), with the Python standard library only (hmac, hashlib, base64). It
shares no code with the Rust crate or the Python package in sdk/python; the
cross-check tests run it against the Rust one in both directions."""

import base64
import hashlib
import hmac
from urllib.parse import unquote_to_bytes

UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
PATH_LITERAL = UNRESERVED | set(b"!$&'()*+,;=:@/")
HEX = b"0123456789abcdefABCDEF"
# The last character of a canonical 43-character eg_sig: 4 bits of the MAC
# and two zero bits (spec 1.1).
SIG_LAST = set(b"AEIMQUYcgkosw048")


class Malformed(ValueError):
    pass


def _pct(b):
    return "%{:02X}".format(b)


def _decode_query(raw):
    out = bytearray()
    i = 0
    data = raw.encode("utf-8")
    while i < len(data):
        c = data[i]
        if c == ord("+"):
            out.append(0x20)
            i += 1
        elif c == ord("%"):
            h = data[i + 1 : i + 3]
            if len(h) != 2 or any(x not in HEX for x in h):
                raise Malformed("bad escape")
            out.append(int(h, 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _encode_query(b):
    return "".join(chr(x) if x in UNRESERVED else _pct(x) for x in b)


def _path(raw):
    if not raw.startswith("/"):
        raise Malformed("path")
    data = raw.encode("utf-8")
    out = []
    i = 0
    while i < len(data):
        c = data[i]
        if c == ord("%"):
            h = data[i + 1 : i + 3]
            if len(h) != 2 or any(x not in HEX for x in h):
                raise Malformed("bad escape")
            d = int(h, 16)
            if d in (0x2F, 0x5C) or d < 0x20 or d == 0x7F:
                raise Malformed("encoded slash/control")
            out.append(chr(d) if d in UNRESERVED else _pct(d))
            i += 3
        elif c == ord("\\") or c < 0x20 or c == 0x7F:
            raise Malformed("backslash/control")
        else:
            out.append(chr(c) if c in PATH_LITERAL else _pct(c))
            i += 1
    norm = "".join(out)
    segs = norm[1:].split("/")
    for k, s in enumerate(segs):
        # A dot segment, also once decoded and cut at its first ';' ("..;x",
        # "%2e%2e;jsessionid=1"), as servlet containers read it (1.1).
        if unquote_to_bytes(s).split(b";", 1)[0] in (b".", b".."):
            raise Malformed("dot segment")
        if s == "" and k != len(segs) - 1:
            raise Malformed("empty segment")
    return norm


def split(url):
    scheme, rest = url.split("://", 1)
    url_nofrag = rest.split("#", 1)[0]
    cut = min([i for i in (url_nofrag.find("/"), url_nofrag.find("?")) if i >= 0] or [len(url_nofrag)])
    authority, target = url_nofrag[:cut], url_nofrag[cut:]
    path, _, query = target.partition("?")
    return authority, path or "/", query


def canonical(url):
    """Returns (string_to_sign, params) where params maps decoded name -> list of decoded values (eg_sig included)."""
    authority, path, query = split(url)
    host = authority.lower()
    for port in (":80", ":443"):
        if host.endswith(port):
            host = host[: -len(port)]
            break
    pairs = []
    for piece in query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        pairs.append((_decode_query(name), _decode_query(value)))
    signed = sorted(
        (_encode_query(n), _encode_query(v)) for n, v in pairs if n != b"eg_sig"
    )
    sts = "EG1-HMAC-SHA256\n{}\n{}\n{}".format(
        host, _path(path), "&".join("{}={}".format(n, v) for n, v in signed)
    )
    return sts, pairs


def signature(secret, sts):
    mac = hmac.new(secret.encode("utf-8"), sts.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def sign(url, secret, kid, sub, exp, nonce, session=None, attrs=()):
    from urllib.parse import quote

    q = [("eg_kid", kid), ("eg_sub", sub), ("eg_exp", str(exp)), ("eg_nonce", nonce)]
    if session is not None:
        q.append(("eg_session", str(session)))
    q += [("eg_attr." + n, v) for n, v in attrs]
    sep = "&" if "?" in url else "?"
    url = url + sep + "&".join("{}={}".format(n, quote(v, safe="")) for n, v in q)
    sts, _ = canonical(url)
    return url + "&eg_sig=" + signature(secret, sts)


def _text(value):
    """UTF-8 without control characters (bytes below 0x20, and 0x7F): 1.1's
    rule for eg_sub and attribute values."""
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(b < 0x20 or b == 0x7F for b in value)


def verify(url, keys, now, skew=60, max_url_ttl=600):
    """Returns the spec §3 reason code, or "ok" (no replay state, no scopes)."""
    try:
        sts, pairs = canonical(url)
    except (Malformed, ValueError):
        return "malformed"
    eg = {}
    for n, v in pairs:
        if n.startswith(b"eg_"):
            name = n.decode("latin-1")
            if name in eg:
                return "malformed"
            eg[name] = v
    required = ["eg_kid", "eg_sub", "eg_exp", "eg_nonce", "eg_sig"]
    if any(r not in eg for r in required):
        return "malformed"
    for name in eg:
        if name in required or name == "eg_session":
            continue
        attr = name[len("eg_attr."):] if name.startswith("eg_attr.") else None
        if not attr or len(attr) > 64 or any(c not in "abcdefghijklmnopqrstuvwxyz0123456789_-" for c in attr):
            return "malformed"
    token = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    kid, nonce, exp_s, sig = eg["eg_kid"], eg["eg_nonce"], eg["eg_exp"], eg["eg_sig"]
    if not (1 <= len(kid) <= 64 and set(kid) <= token):
        return "malformed"
    if not (16 <= len(nonce) <= 128 and set(nonce) <= token):
        return "malformed"
    if not (1 <= len(eg["eg_sub"]) <= 256) or not _text(eg["eg_sub"]):
        return "malformed"
    if any(name.startswith("eg_attr.") and not _text(v) for name, v in eg.items()):
        return "malformed"
    if not exp_s.isdigit() or (len(exp_s) > 1 and exp_s.startswith(b"0")):
        return "malformed"
    if len(sig) != 43 or not set(sig) <= token or sig[-1] not in SIG_LAST:
        return "malformed"
    key = keys.get(kid.decode())
    if key is None:
        return "unknown_key"
    if not key.get("active", True):
        return "key_inactive"
    if not hmac.compare_digest(signature(key["secret"], sts), sig.decode()):
        return "bad_signature"
    exp = int(exp_s)
    if now > exp + skew:
        return "expired"
    if exp > now + max_url_ttl + skew:
        return "exp_too_far"
    return "ok"
