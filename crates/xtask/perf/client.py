#!/usr/bin/env python3
"""Sequential keep-alive HTTP/1.1 client: N requests on one connection.
usage: client.py HOST:PORT cookie N COOKIE      (same path, cookie header)
       client.py HOST:PORT signed URLFILE        (one request per line)
       client.py HOST:PORT first URLFILE         (one signed request; print the cookie)
Exits non-zero on any non-200."""
import socket, sys

def read_resp(s, buf):
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d: raise SystemExit("closed")
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = lines[0]
    hdrs = {}
    cookies = []
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        k = k.strip().lower(); v = v.strip()
        hdrs[k] = v
        if k == b"set-cookie": cookies.append(v)
    if b"content-length" in hdrs:
        n = int(hdrs[b"content-length"])
        while len(rest) < n:
            d = s.recv(65536)
            if not d: raise SystemExit("closed")
            rest += d
        body, rest = rest[:n], rest[n:]
    elif hdrs.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = b""
        while True:
            while b"\r\n" not in rest: rest += s.recv(65536)
            sz, _, rest = rest.partition(b"\r\n")
            n = int(sz, 16)
            while len(rest) < n + 2: rest += s.recv(65536)
            body += rest[:n]; rest = rest[n+2:]
            if n == 0: break
    else:
        raise SystemExit("no length")
    return status, cookies, body, rest

def main():
    host, port = sys.argv[1].split(":")
    mode = sys.argv[2]
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    if mode == "cookie":
        n = int(sys.argv[3]); cookie = sys.argv[4]
        req = ("GET /d/data.json HTTP/1.1\r\nHost: bench.local\r\nCookie: %s\r\n\r\n" % cookie).encode()
        reqs = (req for _ in range(n))
    elif mode == "direct":
        n = int(sys.argv[3])
        req = b"GET /d/data.json HTTP/1.1\r\nHost: bench.local\r\n\r\n"
        reqs = (req for _ in range(n))
    else:
        urls = open(sys.argv[3]).read().split()
        reqs = (("GET %s HTTP/1.1\r\nHost: bench.local\r\n\r\n" % u).encode() for u in urls)
    count = 0
    for r in reqs:
        s.sendall(r)
        status, cookies, body, buf = read_resp(s, buf)
        if not status.startswith(b"HTTP/1.1 200"):
            raise SystemExit("bad status %r body %r" % (status, body))
        count += 1
        if mode == "first":
            print(cookies[0].split(b";")[0].decode())
            return
    print("ok", count, file=sys.stderr)

main()
