"""The command lines of README.md and docs/*.md parse: every `fkc-align ...`, `python -m
fkc_kernels.bench ...` and `... -m fkc_kernels.distributed ...` line of a code block is given to
that command's own argument parser (nothing runs; a bench's strategy and scenario names are
looked up too), so a renamed or removed option fails here before a reader meets it. The run
folder the docs name for `fkc-align serve --budget 32 --k 4` is the one the CLI picks."""

from __future__ import annotations

import argparse
import contextlib
import io
import pathlib
import re
import shlex
from pathlib import Path

import pytest

from fkc_align import cli as align_cli
from fkc_align.cli_options import default_out
from fkc_kernels.bench import cli as bench_cli
from fkc_kernels.distributed import __main__ as distributed_main

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _code_lines(path: pathlib.Path) -> list[str]:
    """The shell lines of the file: every line of a bash or sh block and the `$ ` lines of any
    other block, continuations joined, comments and the prompt removed."""
    lines = []
    for lang, block in re.findall(r"```([a-z]*)\n(.*?)```", path.read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s#.*$", "", line).strip()
            if line.startswith("$ "):
                lines.append(line[2:])
            elif lang in ("bash", "sh"):
                lines.append(line)
    return lines


def _commands() -> list[tuple[str, list[str]]]:
    """(where, argv after the program) for each command line of the docs."""
    found = []
    for path in DOCS:
        for line in _code_lines(path):
            for part in line.split("&&"):
                words = shlex.split(part)
                if "-m" in words and words[0] in ("torchrun", "python"):
                    module = words[words.index("-m") + 1]
                    rest = words[words.index("-m") + 2:]
                    if module == "fkc_align.cli":
                        words = ["fkc-align", *rest]
                    elif module in ("fkc_kernels.bench", "fkc_kernels.distributed"):
                        words = ["python", "-m", module, *rest]
                if words[:1] == ["fkc-align"] or words[:3] in (
                        ["python", "-m", "fkc_kernels.bench"],
                        ["python", "-m", "fkc_kernels.distributed"]):
                    found.append((f"{path.name}: {part.strip()}", words))
    return found


def _parse(words: list[str]) -> argparse.Namespace:
    if words[0] == "fkc-align":
        parser, argv = align_cli.build_parser(), words[1:]
    elif words[2] == "fkc_kernels.bench":
        parser, argv = bench_cli.build_parser(), words[3:]
    else:
        return distributed_main._parse_args(words[3:])
    return parser.parse_args(argv)


COMMANDS = _commands()


def test_the_docs_have_commands():
    where = {w.split(":")[0] for w, _ in COMMANDS}
    assert {"README.md", "fkc-align.md", "serve.md", "feedback-benchmark.md"} <= where, where


@pytest.mark.parametrize("where, words", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_doc_command_parses(where, words):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = _parse(words)
    except SystemExit as exc:
        pytest.fail(f"{where}: the parser refuses it (exit {exc.code}): {err.getvalue()}")
    if words[:2] == ["fkc-align", "bench"]:  # names the parser takes as plain strings
        from fkc_align import bench
        from fkc_align.config import STRATEGIES

        for name in (args.strategies or "").split(","):
            assert not name or name in STRATEGIES, f"{where}: no strategy {name!r}"
        known = {sc.name for sc in bench.scenarios()}
        for name in args.scenarios.split(","):
            assert name in known, f"{where}: no scenario {name!r}"


def test_the_serve_folder_the_docs_name():
    args = align_cli.build_parser().parse_args(["serve", "--budget", "32", "--k", "4"])
    named = Path("runs/digits-liked-l38-b32-k4-s0")
    assert default_out(args) == named
    for path in (ROOT / "README.md", ROOT / "docs" / "serve.md"):
        assert f"--out {named}" in path.read_text(), path.name
