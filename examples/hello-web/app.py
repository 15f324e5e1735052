"""A tiny web app for the devbox demo: counts visits, stdlib only.

Run it in a container with the source bind-mounted: `devbox up` in this directory (see
compose.yaml), or
    devbox run --rm -p 127.0.0.1:8765:8765 -e PORT=8765 -v "$PWD":/app -w /app debian-python python3 app.py
"""

import http.server
import os
import signal
import sys

PORT = int(os.environ.get("PORT", "8000"))
visits = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global visits
        visits += 1
        body = f"Hello from a devbox container! You are visitor {visits}.\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(f"{self.address_string()} {fmt % args}", flush=True)


def main():
    # As PID 1 of its container, the app only stops on signals it handles.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = http.server.HTTPServer(("127.0.0.1", PORT), Handler)
    print(f"serving on http://127.0.0.1:{PORT}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
