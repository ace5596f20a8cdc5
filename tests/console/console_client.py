"""A browser without JavaScript, for the console's HTTP tests: ``requests`` with a cookie jar,
which reads each page's forms and checks every page it receives for the console's promises
(security headers, no inline script or style, no token value where none was asked for)."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Final

import requests

from lacework_tokens.testing import Backend

TIMEOUT_SECONDS: Final = 30
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class PageParser(HTMLParser):
    """Forms, links, scripts and styles of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.links: list[str] = []
        self.inline: list[str] = []  # inline scripts, styles and event handlers found
        self.title = ""
        self._in_title = False
        self._titled = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name in values:
            if name.startswith("on"):
                self.inline.append(f"<{tag} {name}>")
        if "style" in values:
            self.inline.append(f"<{tag} style>")
        if tag == "style":
            self.inline.append("<style>")
        if tag == "script":
            if not values.get("src"):
                self.inline.append("<script> without src")
            self._in_script = True
        if tag == "a" and "href" in values:
            self.links.append(values["href"])
            if values["href"].lower().startswith("javascript:"):
                self.inline.append("javascript: link")
        if tag == "form":
            self.forms.append({"action": values.get("action", ""), "fields": {}, **values})
        if tag in ("input", "textarea", "select", "button") and self.forms and "name" in values:
            self.forms[-1]["fields"].setdefault(values["name"], values.get("value", ""))
        if tag == "title" and not self._titled:  # the page's, not an SVG's
            self._in_title = self._titled = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._in_script and data.strip():
            self.inline.append("<script> with a body")


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def check_page(response: requests.Response) -> None:
    """What every console answer promises."""
    headers = response.headers
    assert headers["Content-Security-Policy"] == CSP, response.url
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    if not response.url.split("?")[0].endswith((".css", ".js")):
        assert headers["Cache-Control"] == "no-store", response.url
    if headers.get("Content-Type", "").startswith("text/html") and not response.is_redirect:
        page = parse(response.text)
        assert page.inline == [], (response.url, page.inline)
        assert page.title.endswith("· lacework-tokens console"), page.title


class ConsoleClient:
    """One person's browser (without JavaScript) on the console of ``backend``."""

    def __init__(self, backend: Backend, *, origin: bool = True) -> None:
        self.backend = backend
        self.base = f"{backend.url}/console"
        self.http = requests.Session()
        self.pages: list[requests.Response] = []  # every answer, redirects included
        self.send_origin = origin
        self.csrf = ""

    def _seen(self, response: requests.Response) -> requests.Response:
        for answer in [*response.history, response]:
            check_page(answer)
            self.pages.append(answer)
        if response.headers.get("Content-Type", "").startswith("text/html"):
            found = re.search(r'name="csrf" value="([^"]+)"', response.text)
            if found and "/signin" not in response.url:
                self.csrf = found.group(1)
        return response

    def text(self, response: requests.Response) -> str:
        """A page's text with HTML entities decoded, as a person reads it."""
        return html.unescape(response.text)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self._seen(
            self.http.get(
                self.url(path), timeout=TIMEOUT_SECONDS, verify=self.backend.verify, **kwargs
            )
        )

    def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        csrf: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        form = dict(data or {})
        form.setdefault("csrf", self.csrf if csrf is None else csrf)
        sent = {"Origin": self.backend.url} if self.send_origin else {}
        sent.update(headers or {})
        return self._seen(
            self.http.post(
                self.url(path),
                data=form,
                headers=sent,
                timeout=TIMEOUT_SECONDS,
                verify=self.backend.verify,
                **kwargs,
            )
        )

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def sign_in(self, key_id: str, secret: str) -> requests.Response:
        page = self.get("/signin")
        nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert nonce, page.text
        return self.post("/signin", {"key_id": key_id, "secret": secret}, csrf=nonce.group(1))

    def sign_in_with_file(self, key_file: bytes) -> requests.Response:
        page = self.get("/signin")
        nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert nonce
        sent = {"Origin": self.backend.url} if self.send_origin else {}
        return self._seen(
            self.http.post(
                self.url("/signin"),
                data={"csrf": nonce.group(1)},
                files={"key_file": ("key.json", key_file, "application/json")},
                headers=sent,
                timeout=TIMEOUT_SECONDS,
                verify=self.backend.verify,
            )
        )

    def token_id(self, name: str) -> str:
        """The id of the token called ``name``, as the tokens table links it."""
        page = self.get("/tokens")
        found = re.search(
            r'href="/console/tokens/([0-9a-f]{64})">' + re.escape(name) + "<", page.text
        )
        assert found, f"no token {name!r} in the table"
        return found.group(1)


def create_key(backend: Backend, role: str, user: str) -> dict[str, str]:
    """A key made by ``lacework-tokens keys create`` on the backend's database."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lacework_tokens",
            "keys",
            "create",
            "--db",
            str(backend.db_path),
            "--json",
            "--role",
            role,
            "--user",
            user,
            "--account",
            backend.account,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    key: dict[str, str] = json.loads(result.stdout)
    return key


def secrets_in(text: str, values: list[str]) -> list[str]:
    """Which of ``values`` (or their first 30 characters, an agent's ``LwTokenShort``) occur."""
    return [value for value in values if value in text or value[:30] in text]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")
