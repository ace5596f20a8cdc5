"""Post the review's Markdown on the pull request (GitHub) or merge request (GitLab).

    python3 examples/ci/post_review.py github|gitlab lacework-tokens-review.md

The previous review comment, if any, is updated rather than a new one added on every push.
Standard library only, so it runs on any CI image with Python 3.

GitHub:  GITHUB_TOKEN, GITHUB_REPOSITORY, PR_NUMBER; GITHUB_API_URL (set by Actions).
GitLab:  GITLAB_TOKEN (a project access token with the api scope), CI_API_V4_URL,
         CI_PROJECT_ID, CI_MERGE_REQUEST_IID (set by GitLab CI for merge request pipelines).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

HEADING = "### lacework-tokens review"


def call(method: str, url: str, headers: dict[str, str], body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - CI API URL
    for name, value in {**headers, "Content-Type": "application/json"}.items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        text = response.read().decode("utf-8")
    return json.loads(text) if text else None


def post_github(text: str) -> None:
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    repository = os.environ["GITHUB_REPOSITORY"]
    number = os.environ["PR_NUMBER"]
    headers = {
        "Authorization": f"Bearer {os.environ['GITHUB_TOKEN']}",
        "Accept": "application/vnd.github+json",
    }
    comments = f"{api}/repos/{repository}/issues/{number}/comments"
    for comment in call("GET", f"{comments}?per_page=100", headers) or []:
        if str(comment.get("body", "")).startswith(HEADING):
            call(
                "PATCH",
                f"{api}/repos/{repository}/issues/comments/{comment['id']}",
                headers,
                {"body": text},
            )
            return
    call("POST", comments, headers, {"body": text})


def post_gitlab(text: str) -> None:
    api = os.environ["CI_API_V4_URL"].rstrip("/")
    notes = (
        f"{api}/projects/{os.environ['CI_PROJECT_ID']}"
        f"/merge_requests/{os.environ['CI_MERGE_REQUEST_IID']}/notes"
    )
    headers = {"PRIVATE-TOKEN": os.environ["GITLAB_TOKEN"]}
    for note in call("GET", f"{notes}?per_page=100&sort=desc", headers) or []:
        if str(note.get("body", "")).startswith(HEADING):
            call("PUT", f"{notes}/{note['id']}", headers, {"body": text})
            return
    call("POST", notes, headers, {"body": text})


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("github", "gitlab"):
        print(__doc__, file=sys.stderr)
        return 2
    text = Path(argv[1]).read_text(encoding="utf-8")
    (post_github if argv[0] == "github" else post_gitlab)(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
