"""A loop-carried variable that compiled Triton drops, found without a GPU.

Triton (3.6 and 3.8) decides which variables a loop carries by a dry run of the body. A variable
counts as carried only if its value after the dry run differs from its value before the loop.
A body that copies a carried variable by name before reassigning it (``last = shift`` ...
``shift -= 8``) gives the copy its pre-loop value whenever both names started equal, so the copy
is not carried: after the loop it holds the value from before the loop. The interpreter runs
Python and keeps it right, so interpreter tests cannot see this. It made the Triton selection
pick wrong indices on an H200. The rule below flags every bare-name copy in a loop of a
``@triton.jit`` function whose source is not assigned earlier in the same pass of the body.
That rule is stricter than the bug, and the kernels follow it.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

TRITON_DIR = pathlib.Path(__file__).resolve().parents[2] / "fkc_kernels" / "triton"


def _is_jit(fn: ast.FunctionDef) -> bool:
    return any("jit" in ast.unparse(d) for d in fn.decorator_list)


def _targets(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, ast.Assign):
        return {n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) and isinstance(stmt.target, ast.Name):
        return {stmt.target.id}
    return set()


def _stale_copies(loop: ast.For | ast.While) -> list[str]:
    """``a = b`` statements of the loop body (top level) where ``b`` was not assigned earlier in
    the body: ``b`` still holds its carried value there, which the dry run sees as pre-loop."""
    assigned: set[str] = set()
    found = []
    for stmt in loop.body:
        if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name)
                and stmt.value.id not in assigned):
            found.append(f"line {stmt.lineno}: {ast.unparse(stmt)}")
        assigned |= _targets(stmt)
    return found


def stale_copies_in(source: str) -> list[str]:
    found = []
    for fn in ast.walk(ast.parse(source)):
        if isinstance(fn, ast.FunctionDef) and _is_jit(fn):
            for loop in ast.walk(fn):
                if isinstance(loop, (ast.For, ast.While)):
                    found += [f"{fn.name} {c}" for c in _stale_copies(loop)]
    return found


@pytest.mark.parametrize("path", sorted(TRITON_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_loop_copies_a_carried_variable(path):
    assert stale_copies_in(path.read_text()) == []


def test_the_rule_flags_the_selection_bug_and_passes_fresh_values():
    buggy = '''
@triton.jit
def radix(shift, done):
    last = shift
    while (shift >= 0) & ~done:
        last = shift
        shift -= 8
    return last
'''
    fresh = '''
@triton.jit
def online(xs, n):
    run_max = xs
    for j in range(n):
        new_max = tl.maximum(run_max, j)
        run_max = new_max
    return run_max
'''
    assert stale_copies_in(buggy) == ["radix line 6: last = shift"]
    assert stale_copies_in(fresh) == []
