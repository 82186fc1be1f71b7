"""Mutation test: do the tests catch small, plausible bugs?

Each mutant (bench/mutants.py) is one textual edit of one file (a sign, a square, a comparison, a
dropped check): ``--suite kernels`` edits the kernel package (fkc_kernels/), ``--suite app`` the
active loop's picks and the benchmark's measures, ``--suite store`` the feedback store,
``--suite serve`` the rating page's submissions (python/fkc_align/). For each, this script
copies the repository to a temporary folder, applies the edit there (the working tree is never
touched), runs the tests that should catch it, and records whether they failed (the mutant is
*killed*) or passed (it *survived*). Python paths only, so no rebuild: the C++ extension is
switched off (``FKC_DISABLE_EXT=1``), which makes ``"auto"`` run the reference, the harder case
for catching reference bugs.

    python bench/mutation_test.py               # every kernel mutant (about 7 minutes)
    python bench/mutation_test.py --suite app   # the loop's mutants (about 9 minutes)
    python bench/mutation_test.py --suite store # the feedback store's (about 2 minutes)
    python bench/mutation_test.py --suite serve # the rating page's (about 1 minute)
    python bench/mutation_test.py --baseline    # first check that the unmutated tests pass
    python bench/mutation_test.py --only 3 7    # some of them
    python bench/mutation_test.py --check       # only check that every edit of every suite applies

The times are a quiet 2-core CPU machine's, where all but one mutant is killed (a survivor runs
its tests to the end). Prints one line per mutant and the survival rate; exits 1 when a mutant's
text is not found (the code moved on: update the list).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mutants import SUITES, Mutant

ROOT = Path(__file__).resolve().parent.parent
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", ".ci-venv", "build", "__pycache__",
                                     "*.so", "_C_build.json", ".pytest_cache")


def apply(mutant: Mutant, root: Path) -> None:
    path = root / mutant.file
    text = path.read_text()
    count = text.count(mutant.old)
    if count != 1:
        raise LookupError(f"{mutant.file}: expected the text once, found it {count} times: "
                          f"{mutant.old!r}")
    path.write_text(text.replace(mutant.old, mutant.new))


def run_tests(root: Path, tests: tuple[str, ...], timeout: float) -> tuple[bool, float]:
    """``(passed, seconds)`` of ``pytest -x -q tests`` in ``root``."""
    env = dict(os.environ, FKC_DISABLE_EXT="1", PYTHONPATH=f"{root}{os.pathsep}{root / 'python'}")
    env.pop("FKC_REQUIRE_EXT", None)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                               *tests], cwd=root, env=env, capture_output=True, text=True,
                              timeout=timeout)
        passed = proc.returncode == 0
    except subprocess.TimeoutExpired:
        passed = False  # a hang is caught (the suite would fail on its time bound)
    return passed, time.perf_counter() - t0


def _missing(chosen: list[tuple[str, int, Mutant]]) -> list[str]:
    """A line for each chosen mutant whose text does not occur exactly once in its file."""
    out = []
    for suite, i, m in chosen:
        count = (ROOT / m.file).read_text().count(m.old)
        if count != 1:
            out.append(f"{suite} #{i} {m.file}: expected the text once, found it {count} times: "
                       f"{m.old!r}")
    return out


def _run(chosen: list[tuple[str, int, Mutant]], baseline: bool, timeout: float) -> int:
    """Run each mutant's tests in a copy of the repository; print a line each and the rate."""
    with tempfile.TemporaryDirectory(prefix="fkc-mutants-") as tmp:
        base = Path(tmp) / "base"
        shutil.copytree(ROOT, base, ignore=COPY_IGNORE)
        for tests in sorted({m.tests for _, _, m in chosen}) if baseline else []:
            if not run_tests(base, tests, timeout)[0]:
                print(f"the unmutated tests fail ({' '.join(tests)}): fix them first",
                      file=sys.stderr)
                return 1
        survivors = []
        for _, i, m in chosen:
            work = Path(tmp) / f"m{i}"
            shutil.copytree(base, work)
            apply(m, work)
            passed, secs = run_tests(work, m.tests, timeout)
            status = "SURVIVED" if passed else "killed"
            if passed:
                survivors.append(i)
            print(f"#{i:2d} {status:8s} {secs:6.1f} s  {m.file}: {m.what}", flush=True)
            shutil.rmtree(work)
    n = len(chosen)
    print(f"{len(survivors)} of {n} mutants survived ({100.0 * len(survivors) / n:.0f}%)"
          + (f": {survivors}" if survivors else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", choices=sorted(SUITES), default="kernels",
                   help="which package's mutants to run (default: kernels)")
    p.add_argument("--only", type=int, nargs="*", help="mutant numbers to run (default: all)")
    p.add_argument("--check", action="store_true",
                   help="only check that every edit of every suite applies")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant's tests")
    p.add_argument("--baseline", action="store_true",
                   help="first run every mutant's tests unmutated (they must pass)")
    args = p.parse_args(argv)
    suites = sorted(SUITES) if args.check else [args.suite]
    chosen = [(s, i, m) for s in suites for i, m in enumerate(SUITES[s])
              if args.check or not args.only or i in args.only]
    if not chosen:
        p.error(f"--only: no mutant with those numbers (0..{len(SUITES[args.suite]) - 1})")
    missing = _missing(chosen)
    if missing:
        print("\n".join(missing), file=sys.stderr)
        return 1
    if args.check:
        print(f"all {len(chosen)} mutants apply")
        return 0
    return _run(chosen, args.baseline, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
