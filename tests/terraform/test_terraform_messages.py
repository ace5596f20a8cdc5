"""What Terraform says when the connection settings are off, through the real ``terraform``:
sentences without stray full stops, the setting to fix, how long the plugin tried.

A missing or malformed setting stops the plan at once; what only the server can tell (a rejected
key, a key of another account, no server at all) stops the first command that calls it, as with
the official provider: a create-only plan makes no call (test_terraform_in_the_wild)."""

from __future__ import annotations

import re
import socket

import pytest
import tftest
from tf_harness import Workbench

CONFIGURATION = 'resource "lacework_agent_access_token" "t" {\n  name = "never"\n}\n'


def failing(tf: tftest.TerraformTest, command: str, *args: str) -> str:
    """Run a command that must fail; its diagnostics, with the box drawing and wrapping gone."""
    with pytest.raises(tftest.TerraformTestError) as failure:
        tf.execute_command(command, "-input=false", "-no-color", *args)
    assert "Traceback" not in str(failure.value)
    return re.sub(r"\s+", " ", str(failure.value.cmd_error).replace("│", " "))


def test_a_rejected_key_reads_as_one_sentence(workbench: Workbench) -> None:
    tf = workbench.configuration(
        "messages-credentials", CONFIGURATION, env={"LW_API_SECRET": "_not-the-secret"}
    )
    tf.setup()
    output = failing(tf, "apply", "-auto-approve")
    assert (
        "answered [401] Invalid API key or secret while exchanging the API key for an access "
        "token." in output
    )
    assert ". while" not in output and ".." not in output


def test_an_unreachable_server_says_how_long_it_was_tried(workbench: Workbench) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    tf = workbench.configuration(
        "messages-unreachable",
        CONFIGURATION,
        env={"LW_API_SERVER_URL": f"http://127.0.0.1:{closed_port}"},
    )
    tf.setup()
    output = failing(tf, "apply", "-auto-approve")
    assert "connection refused (gave up after 4 attempts in " in output


def test_a_server_url_without_scheme_names_the_variable(workbench: Workbench) -> None:
    address = workbench.backend.url.removeprefix("http://")
    tf = workbench.configuration(
        "messages-scheme", CONFIGURATION, env={"LW_API_SERVER_URL": address}
    )
    tf.setup()
    output = failing(tf, "plan")
    assert "Unable to create Lacework API client" in output
    assert (
        f"LW_API_SERVER_URL is '{address}', which has no scheme: write the server's URL in full, "
        f"like http://{address}." in output
    )


def test_an_account_that_is_not_the_key_s_stops_the_first_call(workbench: Workbench) -> None:
    tf = workbench.configuration("messages-account", CONFIGURATION, env={"LW_ACCOUNT": "other"})
    tf.setup()
    output = failing(tf, "apply", "-auto-approve")
    assert "the account is set to 'other'" in output
    assert f"belongs to account '{workbench.backend.account}'" in output
