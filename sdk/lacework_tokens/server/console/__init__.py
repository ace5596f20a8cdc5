"""The console: the Agents page of Lacework's settings, served by the backend under
``/console/`` (sign-in with an API key, agent tokens, audit, API keys).

Pages are rendered on the server with Jinja2 (autoescaped) from templates and static files
shipped in this package, so they read and their forms work without JavaScript; the one script
adds Copy buttons. See ``app.py`` for what every request is checked for.
"""

from lacework_tokens.server.console.app import CONSOLE_PREFIX, ConsoleApp

__all__ = ["CONSOLE_PREFIX", "ConsoleApp"]
