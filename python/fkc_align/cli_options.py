"""The ``fkc-align`` options checked before torch is imported, and ``--resume``'s settings.

Everything here is plain Python (no torch, no fkc_kernels): a mistyped option is answered in a
fraction of a second, the heavy imports come after. :func:`check_light` checks what needs no
task; :func:`fill_settings` takes a resumed run's settings from its folder (``--resume`` needs only
``--out``) or fills the defaults of a new run.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import warnings
from pathlib import Path
from typing import Any

from .config import DEFAULT_STRATEGY

FEEDBACK_FILE = "feedback.jsonl"  # fkc_align.store.FEEDBACK_FILE (a test checks they agree)
DIGIT_TASKS = ("digits", "digits-unet")
TASKS = ("digits-liked", "digits", "digits-unet", "gmm", "rare-mode")
BACKENDS = ("auto", "reference", "cpu", "triton", "cuda")
DEFAULT_TARGET = 3
DEFAULT_LIKED = (3, 8)
DEFAULT_LIKED3 = (0, 4, 7)  # fkc-align bench's three-class instance
# run settings a new run takes when not given (argparse leaves them None so that --resume can
# tell a flag the user typed from a default)
RUN_DEFAULTS: dict[str, Any] = {"task": "digits-liked", "budget": 64, "k": 8, "seed": 0,
                                "strategy": DEFAULT_STRATEGY}
# RunConfig's field -> (the flag the user types, the argparse dest)
FLAGS = {"task": ("--task", "task"), "budget": ("--budget", "budget"), "k": ("--k", "k"),
         "n_particles": ("--particles", "particles"), "n_steps": ("--steps", "steps"),
         "seed": ("--seed", "seed"), "strategy": ("--strategy", "strategy"),
         "lam_max": ("--lam-max", "lam_max")}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` only where the help does not say the default itself and X says
    something (argparse's own formatter printed "(default 3) (default: None)" and "(default:
    False)" for every switch)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or isinstance(action.default, bool) or "default" in text:
            return text
        return super()._get_help_string(action)


def flag_message(message: str) -> str:
    """``message`` of a RunConfig check with its field name (``n_particles: ...``) replaced by
    the flag the user typed (``--particles: ...``)."""
    name, sep, rest = message.partition(": ")
    if sep and name in FLAGS:
        return f"{FLAGS[name][0]}: {rest}"
    return message


def parse_liked(text: str | None, flag: str = "--liked", count: int | None = None,
                default: tuple[int, ...] = DEFAULT_LIKED) -> tuple[int, ...]:
    """``flag`` (``"3,8"``) as digit classes, exactly ``count`` of them when given;
    ``default`` when not given (it is also the example an error shows)."""
    if text is None:
        return default
    try:
        liked = tuple(int(c) for c in text.split(",") if c.strip())
    except ValueError:
        liked = ()
    example = ",".join(map(str, default))
    if not liked or any(not 0 <= c <= 9 for c in liked):
        raise ValueError(f"{flag}: expected digits 0-9 like {example}, got {text!r}")
    if len(set(liked)) != len(liked):
        raise ValueError(f"{flag}: expected distinct digits like {example}, got {text!r}")
    if count is not None and len(liked) != count:
        raise ValueError(f"{flag}: expected {count} digits like {example}, got {text!r}")
    return liked


def _at_least(flag: str, value: Any, low: int) -> None:
    if value is not None and value < low:
        raise ValueError(f"{flag}: expected an int >= {low}, got {value}")


def check_backend_name(backend: str) -> None:
    """``--backend`` is one of :data:`BACKENDS` (whether it runs here needs torch: later)."""
    if backend not in BACKENDS:
        raise ValueError(f"--backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")


def check_light(args: argparse.Namespace) -> None:
    """Every check of ``run``/``serve`` options that needs neither torch nor the task (the
    settings filled by :func:`fill_settings`); errors name the flag."""
    _at_least("--budget", args.budget, 1)
    _at_least("--k", args.k, 1)
    if args.k > args.budget:
        raise ValueError(f"--k: expected at most --budget ({args.budget}): k is the number of "
                         f"particles shown a round, got {args.k}")
    _at_least("--particles", args.particles, 1)
    if args.particles is not None and args.particles < args.k:
        raise ValueError(f"--particles: expected >= --k ({args.k}), the particles sampled a "
                         f"round must cover the ones shown, got {args.particles}")
    _at_least("--steps", args.steps, 1)
    _at_least("--seed", args.seed, 0)
    if args.lam_max is not None and not (math.isfinite(args.lam_max) and args.lam_max >= 0):
        raise ValueError(f"--lam-max: expected a finite number >= 0, got {args.lam_max}")
    if args.task not in DIGIT_TASKS and args.target is not None:
        raise ValueError(f"--target: applies to --task digits or digits-unet only, got --task "
                         f"{args.task}")
    if args.target is not None and not 0 <= args.target <= 9:
        raise ValueError(f"--target: expected a digit 0-9, got {args.target}")
    if args.task != "digits-liked" and args.liked is not None:
        raise ValueError(f"--liked: applies to --task digits-liked only, got --task {args.task}")
    parse_liked(args.liked)
    check_backend_name(args.backend)
    port = getattr(args, "port", None)
    if port is not None and not 0 <= port <= 65535:
        raise ValueError(f"--port: expected 0 (a free port) .. 65535, got {port}")


def default_out(args: argparse.Namespace) -> Path:
    """``runs/<task>[-t<target>|-l<liked>]-b<budget>-k<k>-s<seed>``."""
    task = args.task or RUN_DEFAULTS["task"]
    which = ""
    if task in DIGIT_TASKS:
        which = f"-t{DEFAULT_TARGET if args.target is None else args.target}"
    elif task == "digits-liked":
        which = "-l" + "".join(map(str, parse_liked(args.liked)))
    budget, k, seed = (RUN_DEFAULTS[n] if getattr(args, n) is None else getattr(args, n)
                       for n in ("budget", "k", "seed"))
    return Path("runs") / f"{task}{which}-b{budget}-k{k}-s{seed}"


def check_out(args: argparse.Namespace) -> Path:
    """The run folder, checked against ``--resume`` before anything is written."""
    if args.out is not None and not args.out.strip():
        raise ValueError("--out: expected a folder, got an empty string (leave --out out for "
                         "the default folder)")
    out = Path(args.out) if args.out else default_out(args)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} exists and is not a folder")
    feedback = out / FEEDBACK_FILE
    if args.resume and not feedback.exists():
        raise ValueError(f"--resume: {out} holds no run (no {FEEDBACK_FILE}); check the folder "
                         f"name, or leave out --resume to start a run there")
    if args.resume and feedback.stat().st_size == 0:
        raise ValueError(f"--resume: {feedback} is empty (the run was stopped before it wrote "
                         f"its first line), so there is nothing to resume; leave out --resume "
                         f"to start the run there")
    if not args.resume and feedback.exists() and feedback.stat().st_size > 0:
        raise ValueError(f"--out: {out} already holds a run; pass --resume to continue it, or "
                         f"choose another folder")
    return out


def stored_settings(out: Path) -> dict[str, Any]:
    """The settings in the header line of ``out``'s feedback file (``ValueError`` if none)."""
    file = out / FEEDBACK_FILE
    with open(file, "rb") as fh:
        first = fh.readline()
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if not isinstance(header, dict) or not isinstance(header.get("settings"), dict):
        raise ValueError(f"--resume: {file} does not start with a run's header line, so its "
                         f"settings are unknown; it cannot be resumed")
    return header["settings"]


def _stored_flags(settings: dict[str, Any]) -> dict[str, Any]:
    """argparse dest -> value, the run's settings as the flags that made them."""
    task = settings.get("task") or {}
    flags = {dest: settings.get(field) for field, (_, dest) in FLAGS.items() if field != "task"}
    flags["task"] = task.get("name")
    flags["target"] = task.get("target") if task.get("name") in DIGIT_TASKS else None
    flags["liked"] = (",".join(map(str, task["liked"])) if task.get("name") == "digits-liked"
                      and task.get("liked") else None)
    return flags


def fill_settings(args: argparse.Namespace) -> None:
    """Complete ``args`` in place: a resumed run's settings from its folder (a flag given that
    disagrees is an error naming each such flag, in one line), a new run's defaults."""
    if not args.resume:
        for dest, value in RUN_DEFAULTS.items():
            if getattr(args, dest) is None:
                setattr(args, dest, value)
        return
    out = check_out(args)
    stored = _stored_flags(stored_settings(out))
    if stored["task"] not in TASKS:
        raise ValueError(f"--resume: the run stored in {out} is not one of fkc-align's built-in "
                         f"tasks (its settings name task {stored['task']!r}); resume it from "
                         f"Python with fkc_align.run_active(..., resume=True)")
    names = {dest: flag for flag, dest in FLAGS.values()}
    names.update(target="--target", liked="--liked")
    differ = []
    for dest, value in stored.items():
        given = getattr(args, dest)
        same = (given is None or given == value
                or (dest == "liked" and value is not None
                    and parse_liked(given) == parse_liked(value)))
        if not same:
            differ.append(f"{names[dest]} {given} (stored {value})")
        if value is not None:
            setattr(args, dest, value)
    if differ:
        verb = "disagrees" if len(differ) == 1 else "disagree"
        raise ValueError(f"--resume: {', '.join(differ)} {verb} with the run stored in {out}; "
                         f"leave {'it' if len(differ) == 1 else 'them'} out (--resume takes the "
                         f"stored settings) or start a new run in another --out")
    args.out = str(out)


class _NoCudaRuntimeNote(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "No CUDA runtime is found" not in record.getMessage()


def quiet_startup_noise() -> None:
    """torch's "No CUDA runtime is found" note (logged when the C++ extension's loader imports
    torch.utils.cpp_extension on a machine without a GPU) says nothing to a CPU user; and the
    feedback file's warnings print as one line each, without Python's source-line format."""
    cpp = logging.getLogger("torch.utils.cpp_extension")
    if not any(isinstance(f, _NoCudaRuntimeNote) for f in cpp.filters):
        cpp.addFilter(_NoCudaRuntimeNote())
    default = warnings.formatwarning
    if getattr(default, "fkc_one_line", False):
        return

    # the format, not the display: warnings recorded (pytest.warns, catch_warnings) stay so
    def one_line(message, category, filename, lineno, line=None) -> str:
        if category.__module__.startswith("fkc_align"):
            return f"fkc-align: warning: {message}\n"
        return default(message, category, filename, lineno, line)

    one_line.fkc_one_line = True
    warnings.formatwarning = one_line


def parse_seeds(text: str) -> list[int]:
    """``--seeds``: ``"100-131"`` or ``"0,3,5"`` (or a mix) as a list of seeds >= 0."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = part.split("-")
                seeds.extend(range(int(lo), int(hi) + 1))
            elif part:
                seeds.append(int(part))
    except ValueError:
        seeds = []
    if not seeds or any(s < 0 for s in seeds):
        raise ValueError(f"--seeds: expected seeds >= 0 like 100-131 or 0,3,5, got {text!r}")
    return seeds
