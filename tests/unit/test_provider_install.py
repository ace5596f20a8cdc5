"""``lacework-tokens terraform install`` leaves the plugin ready to start fast."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import lacework_tokens.provider.server as plugin_server
from lacework_tokens.provider.install import install


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
