"""``examples/ci``: the GitHub Actions workflow and the GitLab CI job, run as their CI would run
them, against the backend, so they cannot rot.

The steps' shell runs as written (``bash -eo pipefail`` for Actions, ``sh -e`` for GitLab),
with the CI's variables supplied here and the comment API served on a loopback port. Steps
that only install tools (checkout, setup-*, pip, apt) are not run: the tools are here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from review_harness import REPOSITORY, Lab, providers_block

pytestmark = pytest.mark.terraform

EXAMPLES_CI: Final = REPOSITORY / "examples" / "ci"
EXPRESSION: Final = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


class CommentApi(ThreadingHTTPServer):
    """GitHub's issue comments and GitLab's merge request notes, just enough of both."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.comments: dict[int, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: CommentApi

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        comments = self.server.comments
        if self.command == "GET":
            answer: Any = [{"id": key, "body": text} for key, text in comments.items()]
        elif self.command == "POST":
            key = len(comments) + 1
            comments[key] = body["body"]
            answer = {"id": key}
        else:  # PATCH (GitHub) or PUT (GitLab) of /.../<id>
            key = int(self.path.rstrip("/").rsplit("/", 1)[-1])
            comments[key] = body["body"]
            answer = {"id": key}
        data = json.dumps(answer).encode("utf-8")
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def api() -> Iterator[CommentApi]:
    server = CommentApi()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


INFRA_BEFORE = (
    providers_block()
    + """
resource "lacework_agent_access_token" "agents" {
  name        = "ci-%(label)s-agents"
  description = "agents of the %(label)s pipeline"
}

resource "lacework_agent_access_token" "batch" {
  name        = "ci-%(label)s-batch"
  description = "batch hosts of the %(label)s pipeline"
}
"""
)

INFRA_AFTER = (
    providers_block()
    + """
resource "lacework_agent_access_token" "agents" {
  name        = "ci-%(label)s-agents"
  description = "agents of the %(label)s pipeline"
}
"""
)


def _repository(lab: Lab, tmp_path: Path, label: str) -> Path:
    """A checkout: the CI examples and an applied Terraform root module in infra/."""
    repository = tmp_path / "repository"
    shutil.copytree(EXAMPLES_CI, repository / "examples" / "ci")
    infra = repository / "infra"
    infra.mkdir()
    (infra / "main.tf").write_text(INFRA_BEFORE % {"label": label}, encoding="utf-8")
    for args in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
        subprocess.run(
            ["terraform", *args, "-no-color"],
            cwd=infra,
            env=lab.env,
            check=True,
            capture_output=True,
        )
    return repository


def _environment(lab: Lab, extra: Mapping[str, str]) -> dict[str, str]:
    path = os.pathsep.join([str(Path(sys.executable).parent), lab.env["PATH"]])
    return {**lab.env, **extra, "PATH": path}


def _expand(value: Any, context: Mapping[str, str]) -> str:
    """``${{ expr }}`` from ``context`` (an expression the test does not know fails it)."""
    return EXPRESSION.sub(lambda match: context[match.group(1)], str(value))


def _condition_holds(condition: str, context: Mapping[str, str]) -> bool:
    """The workflow's ``if:`` forms: ``steps.x.outputs.y == 'v'`` joined by ``||``."""
    alternatives = [part.strip() for part in condition.split("||")]
    holds = False
    for alternative in alternatives:
        match = re.fullmatch(r"([\w.]+) == '([^']*)'", alternative)
        assert match is not None, f"unexpected condition {alternative!r}"
        holds |= context[match.group(1)] == match.group(2)
    return holds


def _run_github_job(
    lab: Lab, repository: Path, api: CommentApi, workflow: Mapping[str, Any]
) -> int:
    (job,) = workflow["jobs"].values()
    context = {
        "secrets.LW_ACCOUNT": lab.backend.account,
        "secrets.LW_API_KEY": lab.backend.api_key,
        "secrets.LW_API_SECRET": lab.backend.api_secret,
        "github.token": "ghs_for_tests",
        "github.event.pull_request.number": "7",
    }
    job_env = {name: _expand(value, context) for name, value in job["env"].items()}
    status = 0
    for number, step in enumerate(job["steps"]):
        if "uses" in step or str(step.get("run", "")).startswith("python3 -m pip install"):
            continue
        if "if" in step and not _condition_holds(step["if"], context):
            continue
        step_env = {name: _expand(value, context) for name, value in step.get("env", {}).items()}
        outputs = repository.parent / f"github-output-{number}"  # a fresh file per step
        outputs.write_text("")
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=repository,
            env=_environment(
                lab,
                {
                    **job_env,
                    **step_env,
                    "GITHUB_OUTPUT": str(outputs),
                    "GITHUB_API_URL": api.url,
                    "GITHUB_REPOSITORY": "acme/infrastructure",
                },
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        lab.outputs += [result.stdout, result.stderr]
        for line in outputs.read_text().splitlines():
            name, _, value = line.partition("=")
            context[f"steps.{step.get('id')}.outputs.{name}"] = value
        if result.returncode != 0:
            status = result.returncode
            break
    return status


def test_github_actions_workflow(lab: Lab, api: CommentApi, tmp_path: Path) -> None:
    workflow = yaml.safe_load((EXAMPLES_CI / "github-actions.yml").read_text())
    repository = _repository(lab, tmp_path, "gh")
    infra = repository / "infra"
    (infra / "main.tf").write_text(INFRA_AFTER % {"label": "gh"}, encoding="utf-8")

    # A token without successor is destroyed: the review fails the check and comments.
    assert _run_github_job(lab, repository, api, workflow) == 1
    (posted,) = [request for request in api.requests if request[0] == "POST"]
    _, path, headers, body = posted
    assert path == "/repos/acme/infrastructure/issues/7/comments"
    assert headers["Authorization"] == "Bearer ghs_for_tests"
    report = (infra / "lacework-tokens-review.md").read_text()
    assert body == {"body": report}
    assert "LWT101" in report and "LWT304" in report and "ci-gh-batch" in report
    lab.outputs.append(report)

    # The change is dropped: the review passes and updates its comment instead of adding one.
    (infra / "main.tf").write_text(INFRA_BEFORE % {"label": "gh"}, encoding="utf-8")
    assert _run_github_job(lab, repository, api, workflow) == 0
    assert [request[0] for request in api.requests] == ["GET", "POST", "GET", "PATCH"]
    assert api.requests[-1][1] == "/repos/acme/infrastructure/issues/comments/1"
    assert "0 token changes; no findings" in api.comments[1]


def _run_gitlab_job(lab: Lab, repository: Path, api: CommentApi, job: Mapping[str, Any]) -> int:
    variables = {name: str(value) for name, value in job["variables"].items()}
    result = subprocess.run(
        ["sh", "-e", "-c", "\n".join(job["script"])],
        cwd=repository,
        env=_environment(
            lab,
            {
                **variables,
                "CI_API_V4_URL": f"{api.url}/api/v4",
                "CI_PROJECT_ID": "42",
                "CI_MERGE_REQUEST_IID": "7",
                "GITLAB_TOKEN": "glpat-for-tests",
            },
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    lab.outputs += [result.stdout, result.stderr]
    return result.returncode


def test_gitlab_ci_job(lab: Lab, api: CommentApi, tmp_path: Path) -> None:
    (job,) = yaml.safe_load((EXAMPLES_CI / "gitlab-ci.yml").read_text()).values()
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    repository = _repository(lab, tmp_path, "gl")
    infra = repository / "infra"
    (infra / "main.tf").write_text(INFRA_AFTER % {"label": "gl"}, encoding="utf-8")

    assert _run_gitlab_job(lab, repository, api, job) == 1
    (posted,) = [request for request in api.requests if request[0] == "POST"]
    _, path, headers, body = posted
    assert path == "/api/v4/projects/42/merge_requests/7/notes"
    assert headers["Private-Token"] == "glpat-for-tests"
    report = (infra / "lacework-tokens-review.md").read_text()
    assert body == {"body": report} and "ci-gl-batch" in report
    lab.outputs.append(report)

    (infra / "main.tf").write_text(INFRA_BEFORE % {"label": "gl"}, encoding="utf-8")
    assert _run_gitlab_job(lab, repository, api, job) == 0
    assert [request[0] for request in api.requests] == ["GET", "POST", "GET", "PUT"]
    assert api.requests[-1][1] == "/api/v4/projects/42/merge_requests/7/notes/1"


def test_a_plan_that_cannot_be_made_is_exit_2_and_posts_nothing(
    lab: Lab, api: CommentApi, tmp_path: Path
) -> None:
    (job,) = yaml.safe_load((EXAMPLES_CI / "gitlab-ci.yml").read_text()).values()
    repository = _repository(lab, tmp_path, "broken")
    (repository / "infra" / "main.tf").write_text('resource "lacework_agent_access_token" {\n')
    assert _run_gitlab_job(lab, repository, api, job) == 2
    assert api.requests == []
