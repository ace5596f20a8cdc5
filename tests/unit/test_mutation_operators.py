"""The mutation tool's operators (``tools/mutants``): what they change and what they leave."""

from __future__ import annotations

import ast
import textwrap

from tools.mutants.operators import mutants, mutated_tree

SOURCE = textwrap.dedent(
    '''
    """A module docstring."""
    from __future__ import annotations

    from typing import TYPE_CHECKING, Final

    if TYPE_CHECKING:
        LIMIT_FOR_TYPES = 1

    __all__ = ["check"]

    LIMIT: Final = 32


    class Rule:
        """A class docstring."""

        status: int = 400


    def check(name: str, strict: bool = False) -> str | None:
        """A function docstring."""
        assert isinstance(name, str)
        if not 1 <= len(name) <= LIMIT and strict:
            raise ValueError(f"bad {name[:10]}")
        for char in name:
            if char == "-":
                break
        print(name)
        return "ok" + name
    '''
)


def described() -> list[tuple[str, str, str, bool]]:
    return [(m.qualname, m.before, m.after, m.at_import) for m in mutants("m.py", SOURCE)]


def test_each_operator_makes_the_expected_change() -> None:
    assert described() == [
        ("<module>", "32", "33", True),
        ("Rule", "400", "401", True),
        ("check", "False", "True", True),
        (
            "check",
            "not 1 <= len(name) <= LIMIT and strict",
            "not 1 <= len(name) <= LIMIT or strict",
            False,
        ),
        ("check", "not 1 <= len(name) <= LIMIT", "1 <= len(name) <= LIMIT", False),
        ("check", "1 <= len(name) <= LIMIT", "1 < len(name) <= LIMIT", False),
        ("check", "1 <= len(name) <= LIMIT", "1 <= len(name) < LIMIT", False),
        ("check", "1", "2", False),
        ("check", "raise ValueError(f'bad {name[:10]}')", "pass", False),
        ("check", "char == '-'", "char != '-'", False),
        ("check", "'-'", "'XX-XX'", False),
        ("check", "break", "continue", False),
        ("check", "print(name)", "pass", False),
        ("check", "'ok' + name", "'ok' - name", False),
        ("check", "'ok'", "'XXokXX'", False),
    ]


def test_import_level_mutants_name_what_they_change() -> None:
    names = {m.before: m.names for m in mutants("m.py", SOURCE) if m.at_import}
    assert names == {"32": ("LIMIT",), "400": ("Rule", "status"), "False": ("check",)}


def test_every_mutant_compiles_and_changes_only_its_own_spot() -> None:
    original = ast.unparse(ast.parse(SOURCE))
    for mutant in mutants("m.py", SOURCE):
        tree = mutated_tree("m.py", SOURCE, mutant.ordinal)
        compile(tree, "m.py", "exec")
        changed = ast.unparse(tree)
        assert changed != original
        assert len(changed.splitlines()) - len(original.splitlines()) in (0, 1)


def test_ids_survive_a_function_moving_to_a_class_or_module() -> None:
    in_class = "class Checks:\n" + textwrap.indent(SOURCE.split("def check", 1)[1], "    ")
    in_class = in_class.replace("    (name", "    def check(name", 1)
    moved = {m.id for m in mutants("other.py", in_class)}
    inside = {m.id for m in mutants("m.py", SOURCE) if m.qualname == "check"}
    assert inside and inside <= moved


def test_the_same_change_at_import_in_two_modules_has_two_ids() -> None:
    first = mutants("a.py", "LIMIT = 1\n")
    second = mutants("b.py", "OTHER = 1\n")
    assert first[0].id != second[0].id
    assert mutants("c.py", "LIMIT = 1\n")[0].id == first[0].id


def test_ids_are_stable_when_other_code_moves() -> None:
    moved = SOURCE.replace("LIMIT: Final = 32", "OTHER = 1\n\nLIMIT: Final = 32")
    before = {m.id: m.line for m in mutants("m.py", SOURCE)}
    after = {m.id: m.line for m in mutants("m.py", moved)}
    assert set(before) <= set(after)
    assert all(after[i] > before[i] for i in before if before[i] > 12)
