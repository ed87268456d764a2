"""A simple-API index on loopback, generated from a directory of test wheels.

Serves ``/simple/<project>/`` as PEP 691 JSON or PEP 503 HTML (by the
client's Accept header, or only HTML for ``html_only``), ``/files/<wheel>``
and ``/files/<wheel>.metadata`` (PEP 658/714).  Knobs make it misbehave:
yanked files, a wrong hash, no metadata files, a slow or failing path.
Every request path is logged, so tests can assert what was (not) fetched.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename


@dataclass
class IndexConfig:
    wheels: Path
    html_only: bool = False
    yanked: set[str] = field(default_factory=set)
    wrong_hash: set[str] = field(default_factory=set)
    metadata: bool = True
    slow: set[str] = field(default_factory=set)
    failing: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)


def _metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return zf.read(name)


class _Handler(BaseHTTPRequestHandler):
    config: IndexConfig

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        config = self.config
        config.log.append(self.path)
        if any(self.path.startswith(p) for p in config.slow):
            time.sleep(5)
        if any(self.path.startswith(p) for p in config.failing):
            self._send(500, b"boom", "text/plain")
            return
        parts = self.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "simple":
            self._page(canonicalize_name(parts[1]))
        elif len(parts) == 2 and parts[0] == "files":
            name = parts[1]
            path = config.wheels / name.removesuffix(".metadata")
            if not path.is_file() or (name.endswith(".metadata") and not config.metadata):
                self._send(404, b"not found", "text/plain")
            elif name.endswith(".metadata"):
                self._send(200, _metadata(path), "text/plain")
            else:
                self._send(200, path.read_bytes(), "application/octet-stream")
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _page(self, project: str) -> None:
        config = self.config
        files = [p for p in sorted(config.wheels.iterdir()) if _project(p.name) == project]
        if not files:
            self._send(404, b"no such project", "text/plain")
            return
        rows = []
        for p in files:
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            if p.name in config.wrong_hash:
                digest = "0" * 64
            meta = (hashlib.sha256(_metadata(p)).hexdigest()
                    if config.metadata and p.name.endswith(".whl") else None)
            rows.append((p.name, digest, meta))
        if "json" in self.headers.get("Accept", "") and not config.html_only:
            data = {"meta": {"api-version": "1.0"}, "name": project, "files": [
                {"filename": n, "url": f"../../files/{n}", "hashes": {"sha256": d},
                 "yanked": "broken" if n in config.yanked else False,
                 **({"core-metadata": {"sha256": m}} if m else {})}
                for n, d, m in rows]}
            self._send(200, json.dumps(data).encode(), "application/vnd.pypi.simple.v1+json")
            return
        links = []
        for n, d, m in rows:
            extra = ' data-yanked="broken"' if n in config.yanked else ""
            if m:
                extra += f' data-core-metadata="sha256={m}"'
            links.append(f'<a href="../../files/{html.escape(n)}#sha256={d}"{extra}>{n}</a>')
        body = "<!DOCTYPE html><html><body>" + "<br>".join(links) + "</body></html>"
        self._send(200, body.encode(), "text/html")


def _project(filename: str) -> str | None:
    # Wheels and sdists (.tar.gz) are served; anything else is not.
    if filename.endswith(".whl"):
        return canonicalize_name(parse_wheel_filename(filename)[0])
    if filename.endswith(".tar.gz"):
        return canonicalize_name(parse_sdist_filename(filename)[0])
    return None


@contextmanager
def serve(config: IndexConfig) -> Iterator[str]:
    """Run the index; yield its ``/simple/`` URL."""
    handler = type("Handler", (_Handler,), {"config": config})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()
