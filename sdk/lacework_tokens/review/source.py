"""The configuration's ``.tf`` files: block locations, acknowledgements and ``locals``.

Plan JSON has neither source positions nor ``locals``; both are read from the files. This is a
reader for what the review needs from HCL's native syntax, not a full parser: top-level blocks
with their line span, their attributes as expression text (string literals blanked, template
interpolations kept, so references in ``"${...}"`` count and words in strings do not), and
comments.

An acknowledgement is a comment in a block or in the comment lines right above it::

    # lacework-tokens: ack LWT204 bootstrap reads it once, instance role rotates it (SEC-123)
    resource "aws_instance" "agent" {

It names one or more rule ids or names (comma-separated) and a reason; without a reason it does
not count. It covers every instance of that block (``count``/``for_each``).

Files come from a directory (``.terraform/modules/modules.json`` maps module calls to
directories, else local ``source`` paths are followed) or from a binary plan's ``tfconfig/``
snapshot, so the lines named are those the plan was made from.
"""

from __future__ import annotations

import json
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import attrs

__all__ = ["Ack", "Attribute", "Block", "SourceFile", "SourceModule", "SourceTree", "parse"]

ACK: Final = re.compile(
    r"^\s*(?:#|//|/\*)\s*lacework-tokens:\s*ack\s+(?P<rules>[\w,-]+)(?:\s+(?P<reason>.*?))?\s*(?:\*/)?\s*$"
)
# A traversal in expression code: ``local.x``, ``module.a["k"].out``, ``aws_x.y[0].attr``.
REFERENCE: Final = re.compile(r"(?<![\w.\]])[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[[^\[\]]*\])+")
_IDENT: Final = re.compile(r"[A-Za-z_][\w-]*")
_NUMBER: Final = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_HEREDOC: Final = re.compile(r"<<(-?)([A-Za-z_][\w-]*)[ \t]*\n")
_OPERATORS: Final = ("==", "!=", "<=", ">=", "=>", "&&", "||", "...", "::")


@attrs.frozen
class Ack:
    rules: tuple[str, ...]
    reason: str
    line: int


@attrs.frozen
class Attribute:
    name: str
    line: int
    code: str  # the expression with string literals blanked

    @property
    def references(self) -> list[str]:
        return REFERENCE.findall(self.code)


@attrs.frozen
class Block:
    kind: str
    labels: tuple[str, ...]
    line: int
    end_line: int
    attributes: Mapping[str, Attribute]
    blocks: tuple[Block, ...]

    def walk_attributes(
        self, prefix: tuple[str, ...] = ()
    ) -> Iterator[tuple[tuple[str, ...], Attribute]]:
        for name, attribute in self.attributes.items():
            yield (*prefix, name), attribute
        for block in self.blocks:
            yield from block.walk_attributes((*prefix, block.kind))


@attrs.frozen
class SourceFile:
    path: str  # relative to the root module's directory, with forward slashes
    blocks: tuple[Block, ...]
    acks: Mapping[int, tuple[Ack, ...]]  # by index of the top-level block they belong to


# --- lexing ---------------------------------------------------------------------------------


@attrs.frozen
class _Token:
    kind: str  # ident, string, number, punct, newline, eof
    text: str  # identifiers and punctuation as written; for strings the interpolated code
    line: int
    literal: str = ""  # a quoted string's text as written (block labels)


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.line = 1
        self.tokens: list[_Token] = []
        self.comments: list[tuple[int, int, str]] = []  # (first line, last line, text)

    def run(self) -> list[_Token]:
        text = self.text
        while self.position < len(text):
            char = text[self.position]
            if char == "\n":
                self._emit("newline", "\n")
                self.position += 1
                self.line += 1
            elif char in " \t\r":
                self.position += 1
            elif char == "#" or text.startswith("//", self.position):
                end = text.find("\n", self.position)
                end = len(text) if end < 0 else end
                self.comments.append((self.line, self.line, text[self.position : end]))
                self.position = end
            elif text.startswith("/*", self.position):
                end = text.find("*/", self.position + 2)
                end = len(text) if end < 0 else end + 2
                body = text[self.position : end]
                self.comments.append((self.line, self.line + body.count("\n"), body))
                self.line += body.count("\n")
                self.position = end
            elif char == '"':
                line, start = self.line, self.position + 1
                self.position += 1
                code = self._template(closing='"')
                literal = text[start : self.position - 1]
                self.tokens.append(_Token("string", code, line, literal))
            elif char == "<" and (heredoc := _HEREDOC.match(text, self.position)):
                line = self.line
                self.position = heredoc.end()
                self.line += 1
                code = self._heredoc(heredoc.group(2))
                self.tokens.append(_Token("string", code, line))
            elif ident := _IDENT.match(text, self.position):
                self._emit("ident", ident.group())
                self.position = ident.end()
            elif number := _NUMBER.match(text, self.position):
                self._emit("number", number.group())
                self.position = number.end()
            else:
                operator = next(
                    (op for op in _OPERATORS if text.startswith(op, self.position)), char
                )
                self._emit("punct", operator)
                self.position += len(operator)
        self._emit("eof", "")
        return self.tokens

    def _emit(self, kind: str, text: str) -> None:
        self.tokens.append(_Token(kind, text, self.line))

    def _template(self, closing: str) -> str:
        """A quoted template up to ``closing``; returns the code of its interpolations."""
        text = self.text
        parts: list[str] = []
        while self.position < len(text):
            char = text[self.position]
            if char == "\\":
                self.position += 2
            elif char == closing:
                self.position += 1
                break
            elif char == "\n":  # an unterminated string ends at the line (as HCL reports it)
                break
            elif not self._template_code(parts):
                self.position += 1
        return " ".join(parts)

    def _heredoc(self, marker: str) -> str:
        text = self.text
        parts: list[str] = []
        closing = re.compile(rf"[ \t]*{re.escape(marker)}[ \t]*(?:\n|$)")
        at_line_start = True
        while self.position < len(text):
            if at_line_start and (end := closing.match(text, self.position)):
                self.position = end.end() - (1 if end.group().endswith("\n") else 0)
                break
            at_line_start = False
            char = text[self.position]
            if char == "\n":
                self.line += 1
                self.position += 1
                at_line_start = True
            elif not self._template_code(parts):
                self.position += 1
        return " ".join(parts)

    def _template_code(self, parts: list[str]) -> bool:
        """Consume an escaped (``$${``) or a real interpolation at ``position``; the code of a
        real one goes to ``parts``. False when there is none."""
        if self.text.startswith(("$${", "%%{"), self.position):
            self.position += 3
            return True
        if self.text.startswith(("${", "%{"), self.position):
            parts.append(self._interpolation())
            return True
        return False

    def _interpolation(self) -> str:
        """``${ ... }`` (at ``position``) as code, nested strings blanked."""
        text = self.text
        self.position += 2
        start = self.position
        depth = 0
        while self.position < len(text):
            char = text[self.position]
            if char == '"':
                self.position += 1
                self._template(closing='"')
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                if depth == 0:
                    break
                depth -= 1
            elif char == "\n":
                self.line += 1
            self.position += 1
        raw = text[start : self.position]
        self.position += 1
        return _code(raw)


def _code(expression: str) -> str:
    """Expression text with string literals blanked and interpolations kept."""
    return _join(_Lexer(expression).run())


_TIGHT: Final = frozenset({".", "[", "]"})


def _join(tokens: Sequence[_Token]) -> str:
    """Tokens as code: traversals written tight (``a.b[0].c``), everything else spaced."""
    parts: list[str] = []
    previous = ""
    for token in tokens:
        if token.kind == "newline" or not token.text:
            continue
        if parts and not (token.text in _TIGHT or previous in (".", "[")):
            parts.append(" ")
        parts.append(token.text)
        previous = token.text
    return "".join(parts)


# --- parsing --------------------------------------------------------------------------------

_OPENERS: Final = {"(": ")", "[": "]", "{": "}"}


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def body(self, nested: bool) -> tuple[dict[str, Attribute], list[Block], int]:
        attributes: dict[str, Attribute] = {}
        blocks: list[Block] = []
        while True:
            token = self.peek()
            if token.kind == "eof":
                return attributes, blocks, token.line
            if nested and token.kind == "punct" and token.text == "}":
                self.index += 1
                return attributes, blocks, token.line
            if token.kind == "newline":
                self.index += 1
                continue
            if token.kind == "ident":
                following = self.peek(1)
                if following.kind == "punct" and following.text in ("=", ":"):
                    self.index += 2
                    attributes[token.text] = Attribute(token.text, token.line, self.expression())
                    continue
                block = self.block()
                if block is not None:
                    blocks.append(block)
                    continue
            self.index += 1  # something this reader does not need: skip it

    def block(self) -> Block | None:
        start = self.index
        kind = self.peek()
        self.index += 1
        labels: list[str] = []
        while self.peek().kind in ("ident", "string"):
            token = self.peek()
            labels.append(token.text if token.kind == "ident" else token.literal)
            self.index += 1
        opening = self.peek()
        if not (opening.kind == "punct" and opening.text == "{"):
            self.index = start + 1
            return None
        self.index += 1
        attributes, blocks, end_line = self.body(nested=True)
        return Block(kind.text, tuple(labels), kind.line, end_line, attributes, tuple(blocks))

    def expression(self) -> str:
        parts: list[_Token] = []
        closers: list[str] = []
        while True:
            token = self.peek()
            if token.kind == "eof":
                break
            if not closers and (
                token.kind == "newline" or (token.kind == "punct" and token.text == "}")
            ):
                break
            if token.kind == "punct":
                if token.text in _OPENERS:
                    closers.append(_OPENERS[token.text])
                elif closers and token.text == closers[-1]:
                    closers.pop()
            parts.append(token)
            self.index += 1
        return _join(parts)


def parse(text: str, path: str = "main.tf") -> SourceFile:
    """Read one ``.tf`` file."""
    lexer = _Lexer(text)
    _, blocks, _ = _Parser(lexer.run()).body(nested=False)
    return SourceFile(path, tuple(blocks), _attach_acks(blocks, lexer.comments))


def _attach_acks(
    blocks: Sequence[Block], comments: Sequence[tuple[int, int, str]]
) -> dict[int, tuple[Ack, ...]]:
    comment_lines = {line for first, last, _ in comments for line in range(first, last + 1)}
    attached: dict[int, list[Ack]] = {}
    for first, _last, text in comments:
        for line_offset, line_text in enumerate(text.splitlines() or [text]):
            match = ACK.match(line_text)
            if match is None or not (match.group("reason") or "").strip():
                continue
            line = first + line_offset
            ack = Ack(
                tuple(part for part in match.group("rules").split(",") if part),
                match.group("reason").strip(),
                line,
            )
            owner = _owner(blocks, comment_lines, line)
            if owner is not None:
                attached.setdefault(owner, []).append(ack)
    return {index: tuple(acks) for index, acks in attached.items()}


def _owner(blocks: Sequence[Block], comment_lines: set[int], line: int) -> int | None:
    for index, block in enumerate(blocks):
        if block.line <= line <= block.end_line:
            return index
    following = line + 1
    while following in comment_lines:
        following += 1
    for index, block in enumerate(blocks):
        if block.line == following:
            return index
    return None


# --- the configuration's modules ------------------------------------------------------------


@attrs.frozen
class SourceModule:
    """The files of one module (one module call's directory)."""

    files: tuple[SourceFile, ...]

    def block(self, kind: str, labels: tuple[str, ...]) -> tuple[SourceFile, int, Block] | None:
        for file in self.files:
            for index, block in enumerate(file.blocks):
                if block.kind == kind and block.labels == labels:
                    return file, index, block
        return None

    def local(self, name: str) -> Attribute | None:
        for file in self.files:
            for block in file.blocks:
                if block.kind == "locals" and name in block.attributes:
                    return block.attributes[name]
        return None


Reader = Callable[[str], list[tuple[str, str]]]  # module key -> [(display path, text)]


class SourceTree:
    """The ``.tf`` files of every module, by configuration path, read on first use."""

    def __init__(self, reader: Reader, origin: str) -> None:
        self._reader = reader
        self._modules: dict[tuple[str, ...], SourceModule | None] = {}
        self.origin = origin

    def __repr__(self) -> str:
        return f"SourceTree({self.origin!r})"

    def module(self, path: Sequence[str]) -> SourceModule | None:
        key = tuple(path)
        if key not in self._modules:
            files = self._reader(".".join(key))
            self._modules[key] = (
                SourceModule(tuple(parse(text, name) for name, text in files)) if files else None
            )
        return self._modules[key]

    @classmethod
    def from_directory(
        cls, root: Path, configuration: Mapping[str, Any] | None = None
    ) -> SourceTree | None:
        """The files under ``root`` (the directory ``terraform plan`` ran in); None when it
        holds no ``.tf`` file."""
        root = Path(root)
        if not any(root.glob("*.tf")):
            return None
        directories = _module_directories(root, configuration or {})

        def read(key: str) -> list[tuple[str, str]]:
            relative = directories.get(key)
            if relative is None:
                return []
            directory = root / relative
            return [
                (
                    posixpath.normpath(posixpath.join(relative, file.name)),
                    file.read_text(encoding="utf-8", errors="replace"),
                )
                for file in sorted(directory.glob("*.tf"))
            ]

        return cls(read, str(root))

    @classmethod
    def from_plan_file(cls, snapshot: zipfile.ZipFile) -> SourceTree | None:
        """The configuration snapshot inside a binary plan file (``tfconfig/m-<key>/``)."""
        names = snapshot.namelist()
        if "tfconfig/modules.json" not in names:
            return None
        directories = {
            str(item.get("Key", "")): str(item.get("Dir", "."))
            for item in json.loads(snapshot.read("tfconfig/modules.json"))
        }

        def read(key: str) -> list[tuple[str, str]]:
            prefix = f"tfconfig/m-{key}/"
            relative = directories.get(key, ".")
            return [
                (
                    posixpath.normpath(posixpath.join(relative, name[len(prefix) :])),
                    snapshot.read(name).decode("utf-8", errors="replace"),
                )
                for name in sorted(names)
                if name.startswith(prefix)
                and name.endswith(".tf")
                and "/" not in name[len(prefix) :]
            ]

        return cls(read, "the plan file's configuration snapshot")


def _module_directories(root: Path, configuration: Mapping[str, Any]) -> dict[str, str]:
    """Module key (``a.b``) -> directory relative to ``root``."""
    manifest = root / ".terraform" / "modules" / "modules.json"
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8")).get("Modules") or []
        return {str(item.get("Key", "")): str(item.get("Dir", ".")) for item in entries}
    except (OSError, ValueError, AttributeError):
        pass
    directories = {"": "."}

    def follow(module: Mapping[str, Any], key: str, directory: str) -> None:
        for name, call in (module.get("module_calls") or {}).items():
            source = str(call.get("source") or "")
            if source.startswith(("./", "../")):
                child_key = f"{key}.{name}" if key else name
                child = posixpath.normpath(posixpath.join(directory, source))
                directories[child_key] = child
                follow(call.get("module") or {}, child_key, child)

    follow(configuration.get("root_module") or {}, "", ".")
    return directories
