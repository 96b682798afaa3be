#!/usr/bin/env python3
"""A real CloudEvents receiver for Tarn's alert tests.

Every POST is parsed with the CloudEvents Python SDK 2.x (`cloudevents.core.bindings.http.
from_http`, which detects binary and structured mode), re-serialised in the JSON format and
checked against the CloudEvents JSON schema, and Tarn's data against schemas/alert-event.v1.json.
Slack messages (path /slack) are checked for Slack's `text` and `blocks`.

Prints `{"port": N}` on stdout once listening. Each accepted request is appended to --out as a
JSON line. Options make it fail the first N requests with 503 (--fail-first), require a bearer
token or an HMAC signature, and fail hard (HTTP 400 + a line with "error") on anything invalid.
"""
import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.formats.json import JSONFormat

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
ap.add_argument("--fail-first", type=int, default=0)
ap.add_argument("--bearer")
ap.add_argument("--hmac-secret")
ap.add_argument("--ce-schema", required=True)
ap.add_argument("--data-schema", required=True)
args = ap.parse_args()

CE_SCHEMA = json.load(open(args.ce_schema))
DATA_SCHEMA = json.load(open(args.data_schema))
lock = threading.Lock()
state = {"requests": 0}


def record(obj):
    with lock:
        with open(args.out, "a") as f:
            f.write(json.dumps(obj) + "\n")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, text=""):
        body = text.encode()
        self.send_response(code)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        received_at = time.time()
        with lock:
            state["requests"] += 1
            n = state["requests"]
        if n <= args.fail_first:
            record({"rejected": n})
            return self.reply(503, "failing on purpose")
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            if args.bearer and headers.get("authorization") != "Bearer " + args.bearer:
                raise ValueError("missing or wrong bearer token")
            if args.hmac_secret:
                sig = headers.get("x-tarn-signature", "")
                parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
                want = hmac.new(args.hmac_secret.encode(), (parts.get("t", "") + ".").encode() + body,
                                hashlib.sha256).hexdigest()
                if not hmac.compare_digest(parts.get("v1", ""), want):
                    raise ValueError("bad HMAC signature")
                if abs(time.time() - int(parts["t"])) > 300:
                    raise ValueError("stale HMAC timestamp")
            if self.path == "/slack":
                msg = json.loads(body)
                if not isinstance(msg.get("text"), str) or not isinstance(msg.get("blocks"), list):
                    raise ValueError("not a Slack message")
                record({"slack": msg, "received_at": received_at})
                return self.reply(200, "ok")
            mode = "binary" if any(k.startswith("ce-") for k in headers) else "structured"
            event = from_http(HTTPMessage(headers=headers, body=body), JSONFormat())
            structured = json.loads(JSONFormat().write(event))
            jsonschema.validate(structured, CE_SCHEMA)
            data = event.get_data()
            if isinstance(data, (bytes, str)):
                data = json.loads(data)
            jsonschema.validate(data, DATA_SCHEMA)
            if len(body) > 64 * 1024:
                raise ValueError("event larger than 64 KiB")
            record({
                "mode": mode,
                "id": event.get_id(),
                "type": event.get_type(),
                "source": event.get_source(),
                "subject": event.get_subject(),
                "time": event.get_time().isoformat() if event.get_time() else None,
                "specversion": event.get_specversion(),
                "rule": event.get_extension("tarnrule"),
                "data": data,
                "bytes": len(body),
                "received_at": received_at,
            })
            self.reply(200, "ok")
        except Exception as e:  # any invalid event fails the test that reads --out
            record({"error": f"{type(e).__name__}: {e}", "headers": headers, "body": body.decode(errors="replace")})
            self.reply(400, str(e))


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(json.dumps({"port": server.server_address[1]}), flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
