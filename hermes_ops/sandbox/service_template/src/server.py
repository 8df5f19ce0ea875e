#!/usr/bin/env python3
"""The Hermes sample service: /health, /version (the commit it was built from) and a greeting."""
import http.server
import os
from pathlib import Path

COMMIT = "@COMMIT@"
GREETING = (Path(__file__).resolve().parent / "greeting.txt").read_text()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        bodies = {"/health": "ok\n", "/version": COMMIT + "\n", "/": GREETING}
        body = bodies.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write((body or "not found\n").encode())

    def log_message(self, format, *args):
        print("hermes-app:", format % args, flush=True)


if __name__ == "__main__":
    address = (os.environ.get("HERMES_BIND", "127.0.0.1"), int(os.environ.get("HERMES_PORT", "8088")))
    print(f"hermes-app {COMMIT} listening on {address[0]}:{address[1]}", flush=True)
    http.server.ThreadingHTTPServer(address, Handler).serve_forever()
