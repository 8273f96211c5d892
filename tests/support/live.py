"""A plain HTTP client for tests against a real server (gunicorn): keeps the session cookie, submits forms
with the page's CSRF token, sends files as multipart."""

from __future__ import annotations

import http.client
import re
import uuid
from urllib.parse import urlencode

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


class LiveClient:
    def __init__(self, port: int, cookie: tuple[str, str]):
        self.port, (self.cookie_name, self.cookie) = port, cookie

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Cookie": f"{self.cookie_name}={self.cookie}"}
        if content_type:
            headers["Content-Type"] = content_type
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and value.startswith(f"{self.cookie_name}="):
                self.cookie = value.split(";", 1)[0].split("=", 1)[1]
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def get(self, path: str):
        return self.request("GET", path)

    def submit(self, page: str, action: str, fields: dict, files: dict | None = None):
        html = self.get(page)[2].decode()
        match = _CSRF.search(html)
        assert match, f"{page} has no CSRF token"
        fields = {"csrf_token": match.group(1) or match.group(2), **fields}
        if not files:
            return self.request("POST", action, urlencode(fields).encode(), "application/x-www-form-urlencoded")
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in fields.items()]
        for field, (filename, data) in files.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                         "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", action, body, f"multipart/form-data; boundary={boundary}")
