"""A package index's simple API (PEP 503 HTML, PEP 691 JSON), used only with --online.

Nothing here runs unless the user said ``--online`` (or ran ``vendor``): an
``Index`` is only ever built by the command line for those.

* The project page is asked for as JSON first, HTML second (content
  negotiation, PEP 691); mirrors that serve only HTML work the same.
* A file offers its sha256 (required: every download is verified), its
  Requires-Python, whether it is yanked (PEP 592) and whether its METADATA
  is served beside it (PEP 658/714), which resolution then reads instead of
  downloading the wheel.
* HTTPS uses the system's CA store, or ``SSL_CERT_FILE``; the usual proxy
  variables (``https_proxy``, ``no_proxy``, ...) are honoured by urllib.
* Failures become NetworkError (exit 9) naming the URL and what went wrong.
"""

from __future__ import annotations

import html.parser
import json
import os
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Optional

from packaging.utils import NormalizedName, canonicalize_name

from ..errors import NetworkError

PYPI = "https://pypi.org/simple/"
ACCEPT = ("application/vnd.pypi.simple.v1+json, "
          "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1")
TIMEOUT = float(os.environ.get("VENVFILL_TIMEOUT", "30"))


@dataclass(frozen=True)
class IndexFile:
    """One file of a project as an index lists it."""

    filename: str
    url: str
    sha256: Optional[str]
    requires_python: Optional[str] = None
    yanked: Optional[str] = None
    """None: not yanked; otherwise the reason (possibly empty)."""
    metadata_sha256: Optional[str] = None
    has_metadata: bool = False
    """The index serves ``url + ".metadata"`` (PEP 658/714)."""


def _opener() -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or None)
    return urllib.request.build_opener(urllib.request.ProxyHandler(),
                                       urllib.request.HTTPSHandler(context=context))


def fetch(url: str, *, accept: str = "*/*") -> tuple[bytes, str, str]:
    """GET ``url``; return the body, the Content-Type and the final URL.

    Raises NetworkError with the URL and the cause; a 404 is
    ``NetworkError.status == 404`` so callers can treat it as "not there".
    """
    request = urllib.request.Request(url, headers={"Accept": accept,
                                                   "User-Agent": "venvfill"})
    try:
        with _opener().open(request, timeout=TIMEOUT) as response:
            body = response.read()
            return body, response.headers.get("Content-Type", ""), response.geturl()
    except urllib.error.HTTPError as exc:
        raise NetworkError(f"{url}: HTTP {exc.code} {exc.reason}", status=exc.code,
                           hint=_hint(url)) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, socket.gaierror):
            what = f"cannot resolve the host name ({reason.strerror})"
        elif isinstance(reason, (TimeoutError, socket.timeout)):
            what = f"no answer within {TIMEOUT:.0f} s"
        elif isinstance(reason, ssl.SSLError):
            what = f"TLS failed ({reason}); set SSL_CERT_FILE for a private CA"
        else:
            what = str(getattr(reason, "strerror", None) or reason)
        raise NetworkError(f"{url}: {what}", hint=_hint(url)) from None
    except (TimeoutError, socket.timeout):
        raise NetworkError(f"{url}: no answer within {TIMEOUT:.0f} s",
                           hint=_hint(url)) from None
    except OSError as exc:
        raise NetworkError(f"{url}: {exc.strerror or exc}", hint=_hint(url)) from None


def _hint(url: str) -> str:
    return (f"Check the network, the proxy variables and the index URL configured "
            f"({url.split('?')[0]} was asked), or fill offline from a directory of wheels.")


class Index:
    """One index's simple API, project pages fetched at most once per run."""

    def __init__(self, url: str) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self._pages: dict[NormalizedName, tuple[IndexFile, ...]] = {}

    def files(self, name: str) -> tuple[IndexFile, ...]:
        """The project's files; empty when the index does not have the project."""
        key = canonicalize_name(name)
        if key not in self._pages:
            self._pages[key] = self._fetch_page(key)
        return self._pages[key]

    def _fetch_page(self, name: NormalizedName) -> tuple[IndexFile, ...]:
        url = urllib.parse.urljoin(self.url, f"{name}/")
        try:
            body, content_type, final = fetch(url, accept=ACCEPT)
        except NetworkError as exc:
            if exc.status == 404:
                return ()
            raise
        kind = content_type.split(";")[0].strip().lower()
        try:
            if kind == "application/vnd.pypi.simple.v1+json":
                return parse_json(body, final)
            return parse_html(body.decode("utf-8", errors="replace"), final)
        except (ValueError, KeyError, TypeError) as exc:
            raise NetworkError(f"{url}: not a valid simple-API page ({exc})",
                               hint="Check --index-url: it must be a PEP 503/691 simple "
                               "index (e.g. https://pypi.org/simple/).") from None


def _yank(value: object) -> Optional[str]:
    if value is None or value is False:
        return None
    return value if isinstance(value, str) else ""


def _meta(value: object) -> tuple[bool, Optional[str]]:
    if isinstance(value, dict):
        return True, value.get("sha256")
    return bool(value), None


def parse_json(body: bytes, page_url: str) -> tuple[IndexFile, ...]:
    """Files of a PEP 691 JSON project page."""
    data = json.loads(body)
    files = []
    for f in data["files"]:
        has_meta, meta_sha = _meta(f.get("core-metadata", f.get("dist-info-metadata")))
        files.append(IndexFile(
            filename=f["filename"], url=urllib.parse.urljoin(page_url, f["url"]),
            sha256=f.get("hashes", {}).get("sha256"), requires_python=f.get("requires-python"),
            yanked=_yank(f.get("yanked")), has_metadata=has_meta, metadata_sha256=meta_sha))
    return tuple(files)


class _Anchors(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.base: str | None = None
        self.anchors: list[tuple[dict[str, Optional[str]], str]] = []
        self._current: dict[str, Optional[str]] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            self._current, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.anchors.append((self._current, "".join(self._text).strip()))
            self._current = None


def _html_meta(value: Optional[str], present: bool) -> tuple[bool, Optional[str]]:
    if not present or value is None or value.lower() == "false":
        return False, None
    algo, _, digest = value.partition("=")
    return True, digest if algo == "sha256" and digest else None


def parse_html(text: str, page_url: str) -> tuple[IndexFile, ...]:
    """Files of a PEP 503 HTML project page."""
    parser = _Anchors()
    parser.feed(text)
    base = urllib.parse.urljoin(page_url, parser.base) if parser.base else page_url
    files = []
    for attrs, label in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, _, fragment = urllib.parse.urljoin(base, href).partition("#")
        algo, _, digest = fragment.partition("=")
        filename = urllib.parse.unquote(url.rsplit("/", 1)[-1]) or label
        key = "data-core-metadata" if "data-core-metadata" in attrs else \
            "data-dist-info-metadata"
        has_meta, meta_sha = _html_meta(attrs.get(key), key in attrs)
        yanked = attrs.get("data-yanked") if "data-yanked" in attrs else None
        files.append(IndexFile(
            filename=filename, url=url, sha256=digest if algo == "sha256" and digest else None,
            requires_python=attrs.get("data-requires-python"),
            yanked=None if "data-yanked" not in attrs else (yanked or ""),
            has_metadata=has_meta, metadata_sha256=meta_sha))
    return tuple(files)
