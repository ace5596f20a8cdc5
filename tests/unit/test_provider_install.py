"""``lacework-tokens terraform install``: the plugin ready to start fast, the same bytes from any
environment, under the official versions."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from tf.gen import tfplugin_pb2 as pb

import lacework_tokens.provider.server as plugin_server
from lacework_tokens.provider import OFFICIAL_VERSIONS
from lacework_tokens.provider.install import RECORD_NAME, install
from lacework_tokens.provider.unavailable import schema_response


def test_install_writes_the_package_bytecode(tmp_path: Path) -> None:
    # Terraform starts the plugin for every command; without bytecode on disk (for example
    # under PYTHONDONTWRITEBYTECODE) each start would compile the package from source.
    source = Path(plugin_server.__file__)
    bytecode = Path(importlib.util.cache_from_source(str(source)))
    bytecode.unlink(missing_ok=True)

    installation = install(tmp_path / "mirror")

    assert installation.plugin.is_file()
    assert bytecode.is_file()
    assert bytecode.stat().st_mtime >= source.stat().st_mtime


def test_the_plugin_file_is_the_same_whichever_python_and_mirror_installed_it(
    tmp_path: Path,
) -> None:
    here = install(tmp_path / "a" / "mirror")
    there = install(tmp_path / "elsewhere" / "mirror", python="/opt/other/venv/bin/python")

    assert here.versions == there.versions == OFFICIAL_VERSIONS
    for mine, theirs in zip(here.plugins, there.plugins, strict=True):
        assert mine.read_bytes() == theirs.read_bytes()
        assert mine.stat().st_mode & 0o111
    assert str(tmp_path) not in here.plugin.read_text(encoding="utf-8")
    # What differs is the record beside the packages, which Terraform does not hash.
    record = (there.mirror / RECORD_NAME).read_text(encoding="utf-8")
    assert record == "/opt/other/venv/bin/python\n"


def test_more_versions_are_served_in_order_and_a_malformed_one_is_refused(tmp_path: Path) -> None:
    installation = install(tmp_path / "mirror", versions=["2.0.4", "1.18.0", "2.5.0-beta1"])
    assert installation.versions == (
        "2.5.0-beta1",
        "2.4.0",
        "2.0.4",
        "1.19.2",
        "1.18.0",
        "0.27.0",
    )
    assert installation.plugin.name == "terraform-provider-lacework_v2.5.0-beta1"
    with pytest.raises(ValueError, match="not a provider version"):
        install(tmp_path / "mirror", versions=["2.x"])


def test_the_unavailable_answer_is_a_schema_response_with_one_error() -> None:
    answer = pb.GetProviderSchema.Response.FromString(
        schema_response("The environment is gone", "Run lacework-tokens terraform install.")
    )
    (diagnostic,) = answer.diagnostics
    assert diagnostic.severity == pb.Diagnostic.ERROR
    assert (diagnostic.summary, diagnostic.detail) == (
        "The environment is gone",
        "Run lacework-tokens terraform install.",
    )
    assert not answer.resource_schemas
