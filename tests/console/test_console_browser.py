"""The console in a real browser (headless Chromium): a person's whole visit, the same without
JavaScript, forgeries and role refusals, keyboard and contrast basics, and a grep of every page,
URL and log line for token values. Screenshots of each page go to ``build/console-screenshots``.
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from console_client import create_key, secrets_in
from playwright.sync_api import Browser, BrowserContext, Page, expect

from lacework_tokens import AgentConfig
from lacework_tokens.enrollment import AgentConnection
from lacework_tokens.testing import Backend, run_backend


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(
        tmp_path_factory.mktemp("console-browser"),
        extra_args=["--log-level", "debug", "--login-rate-limit", "0"],
    ) as running:
        yield running


class Visit:
    """One browser tab: every page it showed (with a screenshot) and every URL it requested."""

    def __init__(self, context: BrowserContext, backend: Backend, shots: Path, prefix: str):
        self.backend = backend
        self.shots = shots
        self.prefix = prefix
        self.page = context.new_page()
        self.urls: list[str] = []
        self.messages: list[str] = []
        self.documents: list[tuple[str, str, str, str]] = []  # name, url, title, html
        self.page.on("request", lambda request: self.urls.append(request.url))
        self.page.on("console", lambda message: self.messages.append(message.text))

    def go(self, path: str) -> Page:
        self.page.goto(f"{self.backend.url}/console{path}")
        return self.page

    def shot(self, name: str) -> None:
        """Keep this page: a screenshot, and its URL, title and HTML for the grep."""
        self.page.screenshot(path=self.shots / f"{self.prefix}{name}.png", full_page=True)
        self.documents.append((name, self.page.url, self.page.title(), self.page.content()))

    def sign_in(self, key_id: str, secret: str) -> None:
        self.go("/signin")
        self.page.get_by_label("API key ID").fill(key_id)
        self.page.get_by_label("API secret").fill(secret)
        self.page.get_by_role("button", name="Sign in", exact=True).click()
        expect(self.page).to_have_url(f"{self.backend.url}/console/tokens")


def values_of(backend: Backend) -> list[str]:
    return [token.token for token in backend.client().agent_tokens.list()]


def assert_no_value_unless_asked(visit: Visit, asked: set[str], values: list[str]) -> None:
    """No page but those in ``asked`` shows a value; no URL and no title ever does."""
    for name, url, title, html in visit.documents:
        assert secrets_in(url, values) == [], name
        assert secrets_in(title, values) == [], name
        if name not in asked:
            assert secrets_in(html, values) == [], name
    for url in visit.urls:
        assert secrets_in(url, values) == [], url


def test_a_person_signs_in_creates_copies_disables_and_signs_out(
    browser: Browser, backend: Backend, screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=backend.url)
    visit = Visit(context, backend, screenshots, "")
    page = visit.go("/")
    expect(page).to_have_url(f"{backend.url}/console/signin")
    expect(page).to_have_title("Sign in · lacework-tokens console")
    visit.shot("signin")

    key_file = {
        "keyId": backend.api_key,
        "secret": backend.api_secret,
        "account": backend.account,
        "subAccount": "",
    }
    page.get_by_label("API key file (JSON)").set_input_files(
        files=[
            {
                "name": "local-api-key.json",
                "mimeType": "application/json",
                "buffer": json.dumps(key_file).encode(),
            }
        ]
    )
    page.get_by_role("button", name="Sign in with the file").click()
    expect(page).to_have_url(f"{backend.url}/console/tokens")
    expect(page.get_by_role("heading", level=1)).to_have_text("Agent access tokens")
    visit.shot("tokens-empty")

    page.get_by_role("link", name="+ Add New").click()
    page.get_by_label("Name").fill("prod-eu")
    page.get_by_label("Description").fill("k8s deployment for production env")
    page.get_by_label("Operating system").select_option("linux")
    visit.shot("token-new")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Token prod-eu created")
    expect(page.get_by_role("note")).to_contain_text("Treat this token as a secret")
    copy = page.get_by_role("button", name="Copy")
    expect(copy).to_be_visible()  # the script shows it; CSP let the script run
    visit.shot("token-created")

    copy.click()
    expect(page.get_by_role("status")).to_have_text("Copied to the clipboard.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.get_by_label("Token value").input_value()
    token = backend.client().agent_tokens.get(copied)
    assert (token.name, token.description, token.enabled) == (
        "prod-eu",
        "k8s deployment for production env",
        True,
    )

    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("prod-eu")
    expect(page.get_by_text("The value is hidden.")).to_be_visible()
    expect(page.locator("#usage-enrolled")).to_have_text("0")

    # A simulated agent enrolls with the copied value; the page shows it on the next load.
    enrolled = AgentConnection(backend.url).enroll(
        copied, "web-1", tags={"Name": "web one", "InternalIp": "10.1.2.3"}
    )
    page.reload()
    expect(page.locator("#usage-enrolled")).to_have_text("1")
    expect(page.locator("#usage-active")).to_have_text("1")
    expect(page.get_by_role("cell", name="web-1", exact=True)).to_be_visible()
    expect(page.get_by_role("img", name="Enrollments and check-ins per day")).to_be_visible()
    visit.shot("token")

    page.get_by_role("link", name="Agents", exact=True).click()
    page.get_by_label("Token").select_option(label="prod-eu")
    page.get_by_label("Status").select_option("ACTIVE")
    page.get_by_role("button", name="Filter").click()
    row = page.get_by_role("row").filter(has_text="web-1")
    expect(row).to_contain_text(str(enrolled.mid))
    expect(row).to_contain_text("10.1.2.3")
    expect(row.get_by_role("link", name="prod-eu")).to_be_visible()
    visit.shot("agents")
    row.get_by_role("link", name="prod-eu").click()

    page.get_by_role("link", name="Disable…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Disable the agent access token prod-eu?"
    )
    expect(page.get_by_role("note")).to_have_text(
        "1 agent checked in during the last 7 days and will stop reporting."
    )
    expect(page.get_by_text("can no longer communicate")).to_be_visible()
    visit.shot("token-disable")
    page.get_by_role("button", name="Disable token").click()
    expect(page.get_by_role("status")).to_have_text("Token prod-eu disabled.")
    assert not backend.client().agent_tokens.get(copied).enabled
    expect(page.get_by_role("cell", name="TOKEN_DISABLED", exact=True)).to_be_visible()

    page.get_by_role("button", name="Reveal value").click()
    expect(page.get_by_label("Token value")).to_have_value(copied)
    visit.shot("token-revealed")

    page.get_by_role("link", name="Agent tokens").first.click()
    page.get_by_label("State").select_option("disabled")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("cell", name="prod-eu")).to_be_visible()
    visit.shot("tokens")

    page.get_by_role("link", name="Audit").click()
    for action in (
        "token.created",
        "agent.enrolled",
        "token.disabled",
        "token.revealed",
        "console.signed-in",
    ):
        expect(page.get_by_role("cell", name=action).first).to_be_visible()
    visit.shot("audit")

    page.get_by_role("link", name="API keys").click()
    visit.shot("keys")
    page.get_by_label("User").fill("ci-pipeline")
    page.get_by_label("Role").select_option("read-only")
    page.get_by_role("button", name="Create API key").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("created")
    secret = page.get_by_label("Secret").input_value()
    visit.shot("key-created")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download key file (JSON)").click()
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved["secret"] == secret and saved["account"] == backend.account
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_text(saved["keyId"])).to_be_visible()
    assert secret not in page.content()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{backend.url}/console/signin?signed_out=1")
    expect(page.get_by_role("alert")).to_have_text("You are signed out.")
    visit.shot("signed-out")
    visit.go("/tokens")
    expect(page).to_have_url(f"{backend.url}/console/signin")

    assert [m for m in visit.messages if "Content Security Policy" in m] == []
    values = values_of(backend)
    assert_no_value_unless_asked(visit, {"token-created", "token-revealed"}, values)
    assert secrets_in(backend.logs(), values) == []
    context.close()


def test_without_javascript_every_page_reads_and_every_form_works(
    browser: Browser, backend: Backend, screenshots: Path
) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 860}
    )
    visit = Visit(context, backend, screenshots, "nojs-")
    visit.sign_in(backend.api_key, backend.api_secret)
    page = visit.page
    page.get_by_role("link", name="+ Add New").click()
    page.get_by_label("Name").fill("windows-fleet")
    page.get_by_label("Operating system").select_option("windows")
    page.get_by_role("button", name="Create token").click()
    value = page.get_by_label("Token value").input_value()
    expect(page.get_by_role("button", name="Copy")).to_be_hidden()  # needs the script
    visit.shot("token-created")
    assert backend.client().agent_tokens.get(value).os == "windows"

    page.get_by_role("link", name="Done").click()
    # A Windows token: no install line (install.sh is for Linux), config.json as a download.
    expect(page.get_by_role("button", name="Show install line")).to_have_count(0)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download config.json").click()
    assert json.loads(Path(download.value.path()).read_text()) == {"tokens": {"AccessToken": value}}
    page.get_by_label("Name", exact=True).fill("windows-fleet-2")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Token saved.")
    page.get_by_role("link", name="Disable…").click()
    page.get_by_role("button", name="Disable token").click()
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status")).to_have_text("Token windows-fleet-2 enabled.")
    page.get_by_role("link", name="Delete…").click()
    visit.shot("token-delete")
    page.get_by_role("button", name="Delete token").click()
    expect(page.get_by_role("status")).to_contain_text("deleted (disabled and renamed)")
    visit.shot("tokens")
    deleted = backend.client().agent_tokens.get(value)
    assert re.fullmatch(r"windows-fleet-2-[a-z0-9]{5}-deleted", deleted.name)
    assert not deleted.enabled

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{backend.url}/console/signin?signed_out=1")
    values = values_of(backend)
    assert_no_value_unless_asked(visit, {"token-created"}, values)
    context.close()


def test_install_options_need_a_reveal_or_a_posted_download(
    browser: Browser, backend: Backend, screenshots: Path
) -> None:
    made = backend.client().agent_tokens.create("k8s-prod", description="daemonset, prod-eu")
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=backend.url)
    visit = Visit(context, backend, screenshots, "install-")
    visit.sign_in(backend.api_key, backend.api_secret)
    page = visit.page
    page.get_by_role("link", name="k8s-prod").click()
    expect(page.get_by_role("heading", name="Install options")).to_be_visible()
    expect(page.get_by_label("Install line (Linux)")).to_have_count(0)
    visit.shot("token")

    # Downloads answer a POST: the page stays, the value still hidden on it.
    page.get_by_label("Agent server URL (optional)").fill("https://api.fra.lacework.net")
    with page.expect_download() as config_download:
        page.get_by_role("button", name="Download config.json").click()
    assert config_download.value.suggested_filename == "config.json"
    config = AgentConfig.read(config_download.value.path())
    assert (config.token, config.server_url) == (made.token, "https://api.fra.lacework.net")
    with page.expect_download() as secret_download:
        page.get_by_role("button", name="Download Kubernetes Secret").click()
    assert secret_download.value.suggested_filename == "lacework-agent-access-token.yaml"
    manifest = yaml.safe_load(Path(secret_download.value.path()).read_text())
    data = {key: base64.b64decode(value).decode() for key, value in manifest["data"].items()}
    assert data == {"agent-access-token": made.token, "config.json": config.to_json()}
    expect(page.get_by_text("The value is hidden.")).to_be_visible()

    # An agent of the cluster enrolls with the token its Secret holds.
    AgentConnection(backend.url).enroll(data["agent-access-token"], "k8s-node-1")

    page.get_by_role("button", name="Show install line").click()
    line = page.get_by_label("Install line (Linux)")
    expect(line).to_have_value(
        "curl -sSL https://packages.lacework.net/install.sh | sudo sh -s -- "
        f"{made.token} -U https://api.fra.lacework.net"
    )
    page.get_by_role("button", name="Copy the install line").click()
    expect(page.locator('[data-copy-status="install-line"]')).to_have_text(
        "Copied to the clipboard."
    )
    assert page.evaluate("navigator.clipboard.readText()") == line.input_value()
    expect(page.locator("#usage-enrolled")).to_have_text("1")
    visit.shot("token-install-line")

    # install.sh refuses a server URL outside lacework.net: so does the page, revealing nothing.
    page.get_by_role("link", name="Hide the value").click()
    page.get_by_label("Agent server URL (optional)").fill("https://127.0.0.1:8080")
    page.get_by_role("button", name="Show install line").click()
    expect(page.get_by_role("alert")).to_contain_text("install.sh accepts only a server URL")
    expect(page.get_by_label("Install line (Linux)")).to_have_count(0)
    visit.shot("token-install-refused")

    page.get_by_role("link", name="Audit").click()
    for detail in (
        "config.json downloaded from the console",
        "Kubernetes Secret downloaded from the console",
        "install line shown in the console",
    ):
        rows = page.get_by_role("row").filter(has_text="token k8s-prod")
        expect(rows.filter(has=page.get_by_role("cell", name=detail))).to_have_count(1)
    visit.shot("audit")

    values = values_of(backend)
    assert_no_value_unless_asked(visit, {"token-install-line"}, values)
    assert secrets_in(backend.logs(), values) == []
    context.close()


class OtherSite:
    """Another origin (a second loopback port) serving the pages a test puts in ``pages``."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path, b"")
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def other_site() -> Iterator[OtherSite]:
    site = OtherSite()
    try:
        yield site
    finally:
        site.stop()


def test_a_form_forged_on_another_site_is_refused(
    browser: Browser, backend: Backend, screenshots: Path, other_site: OtherSite
) -> None:
    backend.client().agent_tokens.create("target")
    context = browser.new_context()
    visit = Visit(context, backend, screenshots, "forged-")
    visit.sign_in(backend.api_key, backend.api_secret)
    token_id = _first_token_id(visit)
    # A page of another origin (same host, other port: the session cookie is sent, since
    # SameSite ignores ports) with forms aimed at the console.
    other_site.pages["/prize"] = (
        f'<form method="post" action="{backend.url}/console/tokens/{token_id}/disable">'
        '<input type="hidden" name="confirm" value="yes">'
        '<input type="hidden" name="csrf" value="guessed">'
        '<button type="submit">Win a prize</button></form>'
        f'<form method="post" action="{backend.url}/console/tokens">'
        '<input type="hidden" name="name" value="planted">'
        '<button type="submit">Claim</button></form>'
    ).encode()
    page = visit.page
    before = {t.name: t.enabled for t in backend.client().agent_tokens.list()}
    for button in ("Win a prize", "Claim"):
        page.goto(f"{other_site.url}/prize")
        page.get_by_role("button", name=button).click()
        expect(page.get_by_role("alert")).to_contain_text("another site")
    visit.shot("refused")
    assert {t.name: t.enabled for t in backend.client().agent_tokens.list()} == before
    context.close()


def _first_token_id(visit: Visit) -> str:
    page = visit.go("/tokens")
    href = page.locator("table.tokens a").first.get_attribute("href")
    assert href is not None
    return href.rsplit("/", 1)[1]


def test_read_only_sees_no_write_action_and_a_crafted_form_is_refused(
    browser: Browser, backend: Backend, screenshots: Path
) -> None:
    backend.client().agent_tokens.create("kept-enabled")
    key = create_key(backend, "read-only", "auditor")
    context = browser.new_context()
    visit = Visit(context, backend, screenshots, "read-only-")
    visit.sign_in(key["keyId"], key["secret"])
    page = visit.page
    expect(page.get_by_role("link", name="+ Add New")).to_have_count(0)
    expect(page.get_by_role("link", name="API keys")).to_have_count(0)
    visit.shot("tokens")
    page.get_by_role("link", name="kept-enabled").click()
    expect(page.get_by_role("button", name="Reveal value")).to_be_visible()
    for absent in ("Save", "Enable"):
        expect(page.get_by_role("button", name=absent)).to_have_count(0)
    for absent in ("Disable…", "Delete…"):
        expect(page.get_by_role("link", name=absent)).to_have_count(0)
    visit.shot("token")
    # The page offers no disable; a form built by hand, with this session's CSRF secret, is
    # refused by the server all the same.
    page.evaluate(
        """() => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = location.pathname + "/disable";
            for (const [name, value] of [["confirm", "yes"],
                    ["csrf", document.querySelector("input[name=csrf]").value]]) {
                const input = document.createElement("input");
                input.type = "hidden"; input.name = name; input.value = value;
                form.appendChild(input);
            }
            document.body.appendChild(form);
            form.submit();
        }"""
    )
    expect(page.get_by_role("alert")).to_contain_text(
        "API key role 'read-only' may not update agent access tokens."
    )
    visit.shot("refused")
    assert backend.client().agent_tokens.find("kept-enabled").enabled  # type: ignore[union-attr]
    context.close()


CONTRAST_SCRIPT = """() => {
    const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
    const luminance = ([r, g, b]) => {
        const f = (v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
        for (let node = el; node; node = node.parentElement) {
            const c = parse(getComputedStyle(node).backgroundColor);
            if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
        }
        return [255, 255, 255];
    };
    const failures = [];
    for (const el of document.querySelectorAll("body *")) {
        const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
        const style = getComputedStyle(el);
        if (!own || style.visibility === "hidden" || el.offsetParent === null) continue;
        const fg = luminance(parse(style.color)), bg = luminance(background(el));
        const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
        if (ratio < 4.5) {
            const text = el.textContent.trim().slice(0, 30);
            failures.push(el.tagName + " '" + text + "' " + ratio.toFixed(2));
        }
    }
    return failures;
}"""

UNLABELLED_SCRIPT = """() => [...document.querySelectorAll("input, select, textarea")]
    .filter((el) => el.type !== "hidden" && el.labels.length === 0)
    .filter((el) => !el.getAttribute("aria-label"))
    .map((el) => el.outerHTML)"""


def test_pages_have_labels_focus_and_contrast(
    browser: Browser, backend: Backend, screenshots: Path
) -> None:
    backend.client().agent_tokens.create("a11y", description="checked for contrast")
    context = browser.new_context()
    visit = Visit(context, backend, screenshots, "a11y-")
    page = visit.go("/signin")
    pages = [("signin", "/signin")]
    visit.sign_in(backend.api_key, backend.api_secret)
    token_id = _first_token_id(visit)
    pages += [
        ("tokens", "/tokens"),
        ("token-new", "/tokens/new"),
        ("token", f"/tokens/{token_id}"),
        ("token-disable", f"/tokens/{token_id}/disable"),
        ("agents", "/agents"),
        ("audit", "/audit"),
        ("keys", "/keys"),
    ]
    for name, path in pages:
        page = visit.go(path)
        assert page.evaluate("document.documentElement.lang") == "en"
        expect(page.get_by_role("heading", level=1)).to_have_count(1)
        assert page.evaluate(UNLABELLED_SCRIPT) == [], name
        assert page.evaluate(CONTRAST_SCRIPT) == [], name
        # The first Tab reaches the skip link, which moves focus to the content.
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent")
        assert focused == "Skip to content", name
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", name
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main", name
    context.close()
