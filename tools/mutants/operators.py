"""The mutations: one small change to a module's syntax tree at a time.

``mutants(path, source)`` lists every change the operators below can make; ``mutated_tree``
re-parses the source and applies one of them. Both walk the tree in the same order, so a
mutant is re-applied by its ordinal alone.

What is changed:
- comparisons: ``<`` ↔ ``<=``, ``>`` ↔ ``>=``, ``==`` ↔ ``!=``, ``in`` ↔ ``not in``,
  ``is`` ↔ ``is not`` (each operator of a chain separately);
- ``and`` ↔ ``or``; ``not x`` → ``x``;
- arithmetic: ``+`` ↔ ``-``, ``*`` ↔ ``/``, ``//`` → ``/``, ``%`` → ``//``, ``|`` ↔ ``&``
  (also in augmented assignments);
- constants: ``True`` ↔ ``False``, a number ``n`` → ``n + 1``, a string ``s`` → ``"XX" s "XX"``;
- ``break`` ↔ ``continue``;
- statements dropped: a call made for its effect, and a ``raise``.

What is left alone, because changing it changes no behaviour or only wording: docstrings,
annotations, decorators, ``__all__``, ``assert`` (type narrowing), ``if TYPE_CHECKING:``
blocks, f-strings (message text), the cause of ``raise ... from``, and ``TypeVar``/``cast``
calls.
"""

from __future__ import annotations

import ast
import copy
import hashlib
from collections.abc import Iterator
from typing import Final

from attrs import frozen

__all__ = ["Mutant", "bound_names", "mutants", "mutated_tree", "referenced_names"]

_COMPARISON_SWAPS: Final[dict[type[ast.cmpop], type[ast.cmpop]]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_ARITHMETIC_SWAPS: Final[dict[type[ast.operator], type[ast.operator]]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.BitOr: ast.BitAnd,
    ast.BitAnd: ast.BitOr,
}
_UNMUTATED_CALLS: Final = frozenset({"TypeVar", "cast", "NewType"})
_SHOWN_LENGTH: Final = 90


@frozen
class Mutant:
    """One change to one module.

    ``ordinal`` re-applies it (see ``mutated_tree``); ``lines`` are the lines whose execution
    means the changed code may run; ``at_import`` says it runs when the module is imported
    (module or class level, default values): then ``names`` are what the changed statement
    binds or calls, and code that uses one of them may notice the change.
    """

    path: str
    ordinal: int
    line: int
    lines: tuple[int, ...]
    qualname: str
    before: str
    after: str
    at_import: bool
    occurrence: int
    names: tuple[str, ...]
    bound: tuple[str, ...]

    @property
    def id(self) -> str:
        """The function's name, the change, and which of identical changes in it this is.

        Neither the line, the file nor the enclosing class is part of it: an id survives edits
        elsewhere and the move of a function to another module or class. At import level, the
        names the statement defines stand beside the function's.
        """
        identity = _identity(self.qualname, self.bound)
        text = f"{identity}|{self.before}|{self.after}|{self.occurrence}"
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]

    def describe(self) -> str:
        return f"`{_shorten(self.before)}` -> `{_shorten(self.after)}`"


def _identity(qualname: str, names: tuple[str, ...]) -> str:
    return f"{qualname.rsplit('.', 1)[-1]}:{','.join(names)}"


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 1] + "…"


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _called_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _assigns_all(node: ast.stmt) -> bool:
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    return any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)


def bound_names(statement: ast.stmt) -> set[str]:
    """The names an import-level statement defines (or, for a call, the object it changes)."""
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
        targets = [statement.target]
    elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {statement.name}
    elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        func = statement.value.func
        while isinstance(func, ast.Attribute):
            func = func.value
        targets = [func]
    else:
        targets = [n for n in ast.walk(statement) if isinstance(n, ast.Name | ast.Attribute)]
    names: set[str] = set()
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
    return names


def referenced_names(node: ast.AST) -> set[str]:
    """Every identifier ``node`` reads, as a name or as an attribute."""
    names: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            names.add(child.id)
        elif isinstance(child, ast.Attribute):
            names.add(child.attr)
    return names


Variant = tuple[ast.AST, str]  # (replacement node, what it reads as)


class _Walker(ast.NodeTransformer):
    """Counts mutation sites in a fixed order; replaces the ``target``-th one when given."""

    def __init__(self, path: str, target: int | None) -> None:
        self.path = path
        self.target = target
        self.found: list[Mutant] = []
        self.applied = False
        self._count = 0
        self._scope: list[str] = []
        self._classes: list[str] = []  # the classes whose body is being visited
        self._in_function = False
        self._statement: ast.stmt | None = None
        self._seen: dict[tuple[str, str, str], int] = {}

    # --- the sites --------------------------------------------------------------------

    def _offer(self, node: ast.AST, variants: list[Variant]) -> ast.AST | None:
        """Record (or apply) the variants of ``node``; the replacement when one is applied."""
        before = ast.unparse(node)
        for replacement, after in variants:
            ordinal = self._count
            self._count += 1
            if self.target is None:
                self.found.append(self._mutant(node, ordinal, before, after))
            elif ordinal == self.target:
                self.applied = True
                return ast.copy_location(replacement, node)
        return None

    def _mutant(self, node: ast.AST, ordinal: int, before: str, after: str) -> Mutant:
        qualname = ".".join(self._scope) or "<module>"
        bound = () if self._in_function else tuple(sorted(self._bound()))
        # Code that uses the statement's names, or its classes, may notice the change.
        names = () if self._in_function else tuple(sorted({*self._classes, *bound}))
        key = (_identity(qualname, bound), before, after)
        occurrence = self._seen.get(key, 0)
        self._seen[key] = occurrence + 1
        first = getattr(node, "lineno", 0)
        last = getattr(node, "end_lineno", None) or first
        lines = set(range(first, last + 1))
        if self._statement is not None:
            lines.add(self._statement.lineno)
        return Mutant(
            path=self.path,
            ordinal=ordinal,
            line=first,
            lines=tuple(sorted(lines)),
            qualname=qualname,
            before=before,
            after=after,
            at_import=not self._in_function,
            occurrence=occurrence,
            names=names,
            bound=bound,
        )

    def _bound(self) -> set[str]:
        """What the import-level statement being visited binds."""
        statement = self._statement
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return {statement.name}
        return set() if statement is None else bound_names(statement)

    def _done(self) -> bool:
        return self.applied

    # --- scopes and what is skipped ---------------------------------------------------

    def _visit_body(self, body: list[ast.stmt], *, in_function: bool) -> list[ast.stmt]:
        outer = self._in_function
        self._in_function = in_function
        try:
            start = 1 if body and _is_docstring(body[0]) else 0
            result = body[:start]
            for statement in body[start:]:
                result.extend(self._visit_statement(statement))
            return result
        finally:
            self._in_function = outer

    def _visit_statement(self, statement: ast.stmt) -> list[ast.stmt]:
        if self._done():
            return [statement]
        outer = self._statement
        self._statement = statement
        try:
            visited = self.visit(statement)
        finally:
            self._statement = outer
        if visited is None:
            return []
        if isinstance(visited, list):
            return visited
        assert isinstance(visited, ast.stmt)
        return [visited]

    def visit_Module(self, node: ast.Module) -> ast.Module:
        node.body = self._visit_body(node.body, in_function=False)
        return node

    def _visit_function(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> ast.FunctionDef | ast.AsyncFunctionDef:
        # Defaults run at import; decorators and annotations are left alone.
        args = node.args
        self._scope.append(node.name)
        try:
            args.defaults = [self._expr(d) for d in args.defaults]
            args.kw_defaults = [None if d is None else self._expr(d) for d in args.kw_defaults]
            node.body = self._visit_body(node.body, in_function=True)
        finally:
            self._scope.pop()
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._visit_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._visit_function(node)

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node.args.defaults = [self._expr(d) for d in node.args.defaults]
        outer = self._in_function
        self._in_function = True
        self._scope.append("<lambda>")
        try:
            node.body = self._expr(node.body)
        finally:
            self._scope.pop()
            self._in_function = outer
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self._scope.append(node.name)
        self._classes.append(node.name)
        try:
            node.body = self._visit_body(node.body, in_function=self._in_function)
        finally:
            self._classes.pop()
            self._scope.pop()
        return node

    def _expr(self, node: ast.expr) -> ast.expr:
        if self._done():
            return node
        visited = self.visit(node)
        assert isinstance(visited, ast.expr)
        return visited

    def _children(self, node: ast.AST) -> ast.AST:
        # Statement lists inside compound statements go through _visit_statement, so that each
        # mutant knows its statement.
        for name, value in ast.iter_fields(node):
            if self._done():
                break
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, name, self._visit_body_block(value))
            elif isinstance(value, list):
                setattr(node, name, [self._child(v) for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, name, self._child(value))
        return node

    def _visit_body_block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for statement in body:
            result.extend(self._visit_statement(statement))
        return result or [ast.Pass()]

    def _child(self, value: object) -> object:
        if self._done() or not isinstance(value, ast.AST):
            return value
        return self.visit(value)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        return self._children(node)

    def visit_If(self, node: ast.If) -> ast.AST:
        if _is_type_checking(node.test):
            return node
        return self._children(node)

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        return node

    def visit_Import(self, node: ast.Import) -> ast.AST:
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if _assigns_all(node) or node.value is None:
            return node
        node.value = self._expr(node.value)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        if _assigns_all(node):
            return node
        node.value = self._expr(node.value)
        return node

    # --- the operators ----------------------------------------------------------------

    def visit_Expr(self, node: ast.Expr) -> ast.AST | None:
        if isinstance(node.value, ast.Call) and _called_name(node.value) not in _UNMUTATED_CALLS:
            replaced = self._offer(node, [(ast.Pass(), "pass")])
            if replaced is not None:
                return replaced
        return self._children(node)

    def visit_Raise(self, node: ast.Raise) -> ast.AST | None:
        replaced = self._offer(node, [(ast.Pass(), "pass")])
        if replaced is not None:
            return replaced
        if node.exc is not None:
            node.exc = self._expr(node.exc)
        return node  # the cause (``from None``) only shapes the traceback

    def visit_Break(self, node: ast.Break) -> ast.AST:
        return self._offer(node, [(ast.Continue(), "continue")]) or node

    def visit_Continue(self, node: ast.Continue) -> ast.AST:
        return self._offer(node, [(ast.Break(), "break")]) or node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if _called_name(node) in _UNMUTATED_CALLS:
            return node
        return self._children(node)

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        variants: list[Variant] = []
        for index, op in enumerate(node.ops):
            swapped = _COMPARISON_SWAPS.get(type(op))
            if swapped is None:
                continue
            mutated = copy.deepcopy(node)
            mutated.ops[index] = swapped()
            variants.append((mutated, ast.unparse(mutated)))
        return self._offer(node, variants) or self._children(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        mutated = copy.deepcopy(node)
        mutated.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return self._offer(node, [(mutated, ast.unparse(mutated))]) or self._children(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        if isinstance(node.op, ast.Not):
            operand = copy.deepcopy(node.operand)
            replaced = self._offer(node, [(operand, ast.unparse(operand))])
            if replaced is not None:
                return replaced
        return self._children(node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        return self._swap_arithmetic(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        return self._swap_arithmetic(node)

    def _swap_arithmetic(self, node: ast.BinOp | ast.AugAssign) -> ast.AST:
        """``a + b`` -> ``a - b`` and the like, in an expression or an augmented assignment."""
        swapped = _ARITHMETIC_SWAPS.get(type(node.op))
        if swapped is not None:
            mutated = copy.deepcopy(node)
            mutated.op = swapped()
            replaced = self._offer(node, [(mutated, ast.unparse(mutated))])
            if replaced is not None:
                return replaced
        return self._children(node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        replacement: object
        if isinstance(value, bool):
            replacement = not value
        elif isinstance(value, int | float):
            replacement = value + 1
        elif isinstance(value, str):
            replacement = f"XX{value}XX"
        else:
            return node
        mutated = ast.Constant(value=replacement)
        return self._offer(node, [(mutated, ast.unparse(mutated))]) or node


def _walk(path: str, source: str, target: int | None) -> tuple[ast.Module, _Walker]:
    tree = ast.parse(source, filename=path)
    walker = _Walker(path, target)
    walker.visit(tree)
    return tree, walker


def mutants(path: str, source: str) -> list[Mutant]:
    """Every mutant of ``source`` (the text of the file at repository path ``path``)."""
    return _walk(path, source, None)[1].found


def mutated_tree(path: str, source: str, ordinal: int) -> ast.Module:
    """The syntax tree of ``source`` with mutant ``ordinal`` applied, ready to compile."""
    tree, walker = _walk(path, source, ordinal)
    if not walker.applied:
        raise LookupError(f"{path} has no mutant {ordinal}")
    return ast.fix_missing_locations(tree)


def iter_described(found: list[Mutant]) -> Iterator[str]:
    """One line per mutant, for ``--list``."""
    for mutant in found:
        yield f"{mutant.path}:{mutant.line} [{mutant.qualname}] {mutant.describe()}  {mutant.id}"
