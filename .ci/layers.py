#!/usr/bin/env python3
"""Check the module layering of src/ (issue 16).

Reads every `crate::<module>` reference in each top-level module of src/
(comments excluded), prints the graph, and fails when

* two top-level modules depend on each other, directly or through others
  (a cycle), or
* a file in src/ has more than MAX_LINES lines of non-test code (the lines
  before its `#[cfg(test)]`).

Usage: python3 .ci/layers.py [--graph]
"""

import re
import sys
from pathlib import Path

MAX_LINES = 500
SRC = Path(__file__).resolve().parent.parent / "src"
REFERENCE = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


def top_level_modules():
    modules = {}
    for path in sorted(SRC.iterdir()):
        if path.is_dir():
            modules[path.name] = sorted(path.rglob("*.rs"))
        elif path.suffix == ".rs" and path.stem not in ("lib", "main"):
            modules[path.stem] = [path]
    return modules


def code_lines(path):
    """The file's lines up to its inline test module (none for a file that
    is itself a test module, `tests.rs`)."""
    if path.name == "tests.rs":
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines[:-1]):
        if line.startswith("#[cfg(test)]") and re.match(r"mod \w+ \{", lines[number + 1]):
            return lines[:number]
    return lines


def dependencies(modules):
    graph = {}
    for name, files in modules.items():
        used = set()
        for path in files:
            for line in code_lines(path):
                if line.lstrip().startswith("//"):
                    continue
                used.update(REFERENCE.findall(line))
        graph[name] = sorted(m for m in used if m != name and m in modules)
    return graph


def cycles(graph):
    """Every strongly connected component with more than one module."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def oversized(modules):
    too_long = []
    for files in modules.values():
        for path in files:
            count = len(code_lines(path))
            if count > MAX_LINES:
                too_long.append((count, path.relative_to(SRC.parent)))
    return sorted(too_long, reverse=True)


def main():
    modules = top_level_modules()
    graph = dependencies(modules)
    if "--graph" in sys.argv:
        for name, deps in graph.items():
            print(f"{name:>9} -> {' '.join(deps)}")
    failed = False
    for component in cycles(graph):
        failed = True
        print(f"cycle between modules: {' <-> '.join(component)}")
        for name in component:
            inside = [d for d in graph[name] if d in component]
            print(f"  {name} uses {', '.join(inside)}")
    for count, path in oversized(modules):
        failed = True
        print(f"{path}: {count} lines of non-test code (limit {MAX_LINES}); split it")
    if not failed:
        print(f"layers ok: {len(graph)} modules, no cycle, no file over {MAX_LINES} lines")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
