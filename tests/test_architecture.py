"""The contexts import each other in one direction (docs/architecture.md), and no module loops.

Read from the source with ``ast``, so a new import that breaks a rule fails here, with the
file and line, before it makes the code harder to change.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "mitalk"

# core ← realtime ← accounts ← notifications ← access ← network ← rooms ← media / search / me:
# a context may import only contexts of a lower rank; the composition (app, cli, models,
# migrations) may import every one. webclient imports none; front (the TLS front) only core.
RANK = {
    "core": 0,
    "webclient": 0,
    "front": 1,
    "realtime": 1,
    "accounts": 2,
    "notifications": 3,
    "access": 4,
    "network": 5,
    "rooms": 6,
    "media": 7,
    "search": 7,
    "me": 7,
}
# doctor: the operator's check of a whole deployment, composed like cli from every context.
COMPOSITION = {"app", "cli", "doctor", "models", "__main__", "migrations", "__init__"}
# Modules that import inside functions on purpose, and why (their docstrings say so too).
LATE_IMPORTS = {
    "cli.py": "start-up time of the mitalk command",
    "media/bot_cli.py": "start-up time of the mitalk command (aiortc, numpy)",
}


@dataclass(frozen=True)
class Import:
    """One ``import`` of a mitalk module by a file of src/mitalk."""

    source: str  # path relative to src/mitalk
    line: int
    target: str  # dotted module name, e.g. mitalk.rooms.service
    in_function: bool


def context_of(path: str) -> str:
    """The context of a file (its first folder), or the module name of a top-level file."""
    parts = Path(path).parts
    return parts[0] if len(parts) > 1 else Path(path).stem


def module_of(path: str) -> str:
    """The dotted name of a file of src/mitalk."""
    parts = list(Path(path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["mitalk", *parts])


def imports() -> list[Import]:
    """Every import of a mitalk module (or of anything, inside a function) in src/mitalk."""
    found: list[Import] = []
    for file in sorted(SRC.rglob("*.py")):
        path = file.relative_to(SRC).as_posix()

        def visit(node: ast.AST, in_function: bool, path: str = path) -> None:
            for child in ast.iter_child_nodes(node):
                inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                if isinstance(child, ast.Import):
                    found.extend(
                        Import(path, child.lineno, a.name, in_function) for a in child.names
                    )
                elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                    targets = [child.module]
                    # ``from mitalk.rooms import service`` imports the module mitalk.rooms.service
                    targets += [
                        f"{child.module}.{a.name}"
                        for a in child.names
                        if (SRC.parent / f"{child.module}.{a.name}".replace(".", "/"))
                        .with_suffix(".py")
                        .exists()
                    ]
                    found.extend(Import(path, child.lineno, t, in_function) for t in targets)
                visit(child, inner)

        visit(ast.parse(file.read_text(encoding="utf-8")), False)
    return found


def test_contexts_import_only_the_ones_below_them() -> None:
    wrong = []
    for imp in imports():
        if not imp.target.startswith("mitalk.") or imp.target.count(".") < 1:
            continue
        here, there = context_of(imp.source), imp.target.split(".")[1]
        if here == there or here in COMPOSITION:
            continue
        if there in COMPOSITION or RANK[there] >= RANK[here]:
            wrong.append(f"{imp.source}:{imp.line} ({here}) imports {imp.target} ({there})")
    assert wrong == [], "\n".join(wrong)


def test_no_context_imports_another_ones_endpoints_or_sockets() -> None:
    wrong = [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in imports()
        if imp.target.startswith("mitalk.")
        and imp.target.rsplit(".", 1)[-1] in ("endpoints", "ws")
        and context_of(imp.source) not in COMPOSITION
        and imp.target.split(".")[1] != context_of(imp.source)
    ]
    assert wrong == [], "\n".join(wrong)


def test_imports_inside_functions_only_where_the_module_says_why() -> None:
    wrong = [
        f"{imp.source}:{imp.line} imports {imp.target} inside a function"
        for imp in imports()
        if imp.in_function and imp.source not in LATE_IMPORTS
    ]
    assert wrong == [], "\n".join(wrong)
    for path, reason in LATE_IMPORTS.items():
        docstring = ast.get_docstring(ast.parse((SRC / path).read_text(encoding="utf-8"))) or ""
        assert "inside" in docstring and "start" in docstring, f"{path} must say why ({reason})"


def test_no_module_imports_another_in_a_loop() -> None:
    graph: dict[str, set[str]] = {}
    modules = {module_of(f.relative_to(SRC).as_posix()) for f in SRC.rglob("*.py")}
    for imp in imports():
        if imp.target in modules and not imp.in_function:
            graph.setdefault(module_of(imp.source), set()).add(imp.target)
    # Tarjan's strongly connected components: any component of two or more modules is a loop.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def connect(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph.get(module, ()):
            if other not in index:
                connect(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            connect(module)
    assert loops == [], loops


def test_the_checks_see_the_imports_they_check() -> None:
    """A rule over no imports proves nothing: the reader finds the known ones."""
    found = {(imp.source, imp.target) for imp in imports()}
    assert ("rooms/service.py", "mitalk.network.repository") in found
    assert ("app.py", "mitalk.rooms.endpoints") in found
    assert any(imp.in_function for imp in imports() if imp.source == "cli.py")
