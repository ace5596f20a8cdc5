"""``python -m lacework_tokens``: the same command line as ``lacework-tokens``."""

from __future__ import annotations

from lacework_tokens.cli import main

raise SystemExit(main())
