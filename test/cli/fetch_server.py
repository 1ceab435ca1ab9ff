#!/usr/bin/env python3
"""fetch_server.py - a small HTTP server for test/test_fetch.c.

Usage: fetch_server.py ROOT LOG [SECONDS]

Listens on 127.0.0.1 on a free port and prints the port on stdout (one
line). Serves the files in ROOT, with Range requests ("bytes=A-",
"bytes=A-B", "bytes=-N") answered 206 with Content-Range and a range past
the end answered 416 with "Content-Range: bytes */SIZE". Each request is
appended to LOG as one line, "GET PATH RANGE" (RANGE is "-" when absent).
The first path component picks a behaviour; counts are per full path:

  /NAME            the file
  /drop/NAME       first request: headers for the whole answer, half the
                   body, then the connection closes; later ones served
  /stall/NAME      first request: half the body, then 30 s of silence;
                   later ones served
  /flaky/NAME      500 for the first two requests, then served
  /norange/NAME    the Range header ignored: always 200, the whole file
  /redirect/NAME   302 to /NAME
  /status/CODE[/F] that status with a small HTML error page

It exits by itself after SECONDS (default 120), or as soon as the process
that started it is gone, so a test that dies leaves nothing behind.
"""
import http.server
import os
import re
import sys
import threading
import time

ROOT, LOG = sys.argv[1], sys.argv[2]
LIMIT = float(sys.argv[3]) if len(sys.argv) > 3 else 120.0
lock = threading.Lock()
counts = {}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):  # keep stderr quiet
        pass

    def do_GET(self):
        rng = self.headers.get("Range")
        with lock:
            counts[self.path] = n = counts.get(self.path, 0) + 1
            with open(LOG, "a") as f:
                f.write("GET %s %s\n" % (self.path, rng or "-"))
        parts = self.path.lstrip("/").split("/", 1)
        hook, name = (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])
        if hook == "status":
            return self.error_page(int(name.split("/")[0]))  # /status/CODE[/FILE]
        if hook == "redirect":
            self.send_response(302)
            self.send_header("Location", "/" + name)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if hook == "flaky" and n <= 2:
            return self.error_page(500)
        path = os.path.join(ROOT, os.path.basename(name))
        if not os.path.isfile(path):
            return self.error_page(404)
        with open(path, "rb") as f:
            data = f.read()
        self.send_file(data, None if hook == "norange" else rng,
                       ranges=hook != "norange",
                       cut=hook in ("drop", "stall") and n == 1,
                       stall=hook == "stall")

    def error_page(self, code):
        body = b"<html><body>error %d</body></html>\n" % code
        self.send_response(code)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_file(self, data, rng, ranges, cut, stall):
        size, first, last = len(data), 0, len(data) - 1
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip()) if rng else None
        if m and (m.group(1) or m.group(2)):
            if m.group(1):
                first = int(m.group(1))
                if m.group(2):
                    last = min(int(m.group(2)), size - 1)
            else:
                first = max(size - int(m.group(2)), 0)
            if first >= size or first > last:
                body = b"<html><body>range not satisfiable</body></html>\n"
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (first, last, size))
        else:
            self.send_response(200)
        body = data[first:last + 1]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes" if ranges else "none")
        self.end_headers()
        if cut:
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            if stall:
                time.sleep(30)
            self.close_connection = True
            return
        self.wfile.write(body)


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(srv.server_address[1], flush=True)
    parent = os.getppid()
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline and os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


if __name__ == "__main__":
    main()
