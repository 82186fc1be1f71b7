"""Command-line entry point ``fkc-align``.

``fkc-align run`` runs the active loop on a built-in task (default: digits, the user likes 3s
and 8s equally; budget 64, k 8), optionally with the baselines, and writes report.json,
report.png and best.png into the run folder. ``--resume`` continues a killed run.
``fkc-align bench`` runs the feedback benchmark (:mod:`fkc_align.bench`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

# only plain-Python modules up here: the options are checked before torch is imported
from .cli_options import (
    BACKENDS,
    DEFAULT_LIKED,
    DEFAULT_LIKED3,
    DEFAULT_TARGET,
    DIGIT_TASKS,
    FEEDBACK_FILE,
    RUN_DEFAULTS,
    TASKS,
    HelpFormatter,
    check_backend_name,
    check_light,
    check_out,
    default_out,
    fill_settings,
    flag_message,
    parse_liked,
    parse_seeds,
    quiet_startup_noise,
)
from .config import BENCH_STRATEGIES, QUICK_STRATEGIES, STRATEGIES
from .store.durable_io import StorageError, describe_os_error
from .store.lock import RunLock

if TYPE_CHECKING:
    import torch

    from .config import RunConfig
    from .results import ActiveResult
    from .tasks import Task

__all__ = ["BACKENDS", "DEFAULT_LIKED", "DEFAULT_TARGET", "DIGIT_TASKS", "build_parser",
           "check_out", "default_out", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fkc-align",
        description="Budget-constrained active preference alignment with FKC diffusion sampling.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    shared = argparse.ArgumentParser(add_help=False)  # the options run and serve share
    _add_run_options(shared)
    run = sub.add_parser("run", help="run the active loop on a built-in task",
                         formatter_class=HelpFormatter, parents=[shared])
    run.add_argument("--baselines", action="store_true",
                     help="also run the baselines: fkc-eps (the paper's epsilon-greedy), "
                          "greedy (eps=0) and random (unguided)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    serve = sub.add_parser(
        "serve", help="the active loop with you as the oracle: rate the particles in a browser",
        description="Runs the active loop with a person as the oracle: prints a URL (with its "
                    "access token) of a page that shows each round's particles to rate with 1-5 "
                    "stars (stored as the reward stars - 3). Needs the [serve] extra.",
        formatter_class=HelpFormatter, parents=[shared])
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (this machine only by default)")
    serve.add_argument("--port", type=int, default=None,
                       help="port to listen on (default 8765; 0: a free one); --resume reuses "
                            "the port and token of the run's last serve when the port is free")
    add_bench_parser(sub)
    return parser


def _add_run_options(run: argparse.ArgumentParser) -> None:
    """The task, model and budget options ``run`` and ``serve`` share."""
    d = RUN_DEFAULTS  # None below: a flag the user did not type (--resume takes the stored one)
    run.add_argument("--task", choices=TASKS, default=None,
                     help=f"built-in task (default {d['task']}): digits-liked (a multimodal "
                          "preference: several liked classes), digits (one target class), "
                          "digits-unet (digits with a trained diffusers UNet as the base model; "
                          "needs the [diffusers] extra), gmm (2-D), rare-mode (a rare liked "
                          "mode behind a decoy)")
    run.add_argument("--target", type=int, default=None,
                     help=f"digits, digits-unet: the digit the synthetic user wants (default "
                          f"{DEFAULT_TARGET})")
    run.add_argument("--liked", default=None,
                     help=f"digits-liked: the liked classes, comma-separated (default "
                          f"{','.join(map(str, DEFAULT_LIKED))})")
    run.add_argument("--budget", type=int, default=None,
                     help=f"total reward queries B (default {d['budget']})")
    run.add_argument("--k", type=int, default=None,
                     help=f"particles shown per round, at most B (default {d['k']})")
    run.add_argument("--particles", type=int, default=None,
                     help="particles sampled per round N (default: the task's)")
    run.add_argument("--steps", type=int, default=None,
                     help="sampler steps per round (default: the task's)")
    run.add_argument("--lam-max", type=float, default=None,
                     help="guidance strength in reward standard deviations (default: the task's)")
    run.add_argument("--seed", type=int, default=None,
                     help=f"seeds every random draw (sampling, picks, reward-model training): "
                          f"the same seed and settings ask the same questions (default "
                          f"{d['seed']})")
    run.add_argument("--backend", default="auto",
                     help="fkc_kernels backend: auto, reference, cpu, triton, cuda")
    run.add_argument("--device", default=None, help="torch device for sampling (default cpu)")
    run.add_argument("--out", default=None,
                     help="run folder (default runs/<task>[-t<target>|-l<liked>]-b<budget>-k<k>"
                          "-s<seed>, e.g. runs/digits-liked-l38-b64-k8-s0)")
    run.add_argument("--resume", action="store_true",
                     help="continue the run stored in --out: its settings come from the folder "
                          "(a flag given that disagrees is an error)")
    run.add_argument("--strategy", choices=STRATEGIES, default=None,
                     help=f"how each round picks what to show (default {d['strategy']}; see "
                          f"fkc_align.config)")


def add_bench_parser(sub) -> None:
    """``fkc-align bench``: the feedback benchmark (:mod:`fkc_align.bench`)."""
    bench = sub.add_parser("bench", help="the feedback benchmark: every strategy on the "
                           "multimodal, rare-mode and small-budget scenarios, paired seeds",
                           formatter_class=HelpFormatter)
    bench.add_argument("--seeds", default="100-115",
                       help="seeds (held-out by default; 0-15 are the design seeds)")
    bench.add_argument("--quick", action="store_true",
                       help="a smoke run: tiny settings, 2 seeds (seconds, not a measurement)")
    bench.add_argument("--jobs", type=int, default=2, help="worker processes")
    bench.add_argument("--scenarios", default="multimodal,multimodal-3,rare-mode,rare-between,"
                       "small-budget", help="comma-separated scenario names")
    bench.add_argument("--strategies", default=None,
                       help="comma-separated strategies (paired differences against greedy, "
                       f"random and fkc-explore; default: {','.join(BENCH_STRATEGIES)}; "
                       f"with --quick: {','.join(QUICK_STRATEGIES)})")
    bench.add_argument("--liked", default="3,8", help="multimodal: the liked digit classes")
    bench.add_argument("--liked3", default=",".join(map(str, DEFAULT_LIKED3)),
                       help="multimodal-3: the three liked digit classes")
    bench.add_argument("--layout", type=int, default=0, help="rare-mode: the mode layout seed")
    bench.add_argument("--target", type=int, default=8, help="small-budget: the rare digit")
    bench.add_argument("--confidence", type=float, default=0.9,
                       help="small-budget: a hit is the target with at least this probability")
    bench.add_argument("--backend", default="auto", help="fkc_kernels backend")
    bench.add_argument("--out", default="runs/bench", help="where bench.json and PNGs go")


def cmd_bench(args: argparse.Namespace) -> int:
    # the options that need no scenario are checked before torch is imported
    seeds = [0, 1] if args.quick and args.seeds == "100-115" else parse_seeds(args.seeds)
    liked = parse_liked(args.liked)
    liked3 = parse_liked(args.liked3, "--liked3", count=3, default=DEFAULT_LIKED3)
    if args.layout < 0:
        raise ValueError(f"--layout: expected a seed >= 0, got {args.layout}")
    if not 0.0 < args.confidence < 1.0:  # NaN fails too
        raise ValueError(f"--confidence: expected a probability in (0, 1), got {args.confidence}")
    if not 0 <= args.target <= 9:
        raise ValueError(f"--target: expected a digit 0-9, got {args.target}")
    default = QUICK_STRATEGIES if args.quick else BENCH_STRATEGIES
    names = ([n.strip() for n in args.strategies.split(",") if n.strip()]
             if args.strategies is not None else list(default))
    bad = [n for n in names if n not in STRATEGIES]
    if bad or not names:
        raise ValueError(f"--strategies: expected names from {STRATEGIES}, got {bad or names}")
    if args.jobs < 1:
        raise ValueError(f"--jobs: expected an int >= 1, got {args.jobs}")
    check_backend_name(args.backend)
    chosen = [c.strip() for c in args.scenarios.split(",") if c.strip()]
    if not chosen:
        raise ValueError(f"--scenarios: expected comma-separated scenario names, got "
                         f"{args.scenarios!r}")
    print("fkc-align bench: loading torch and the scenarios...", flush=True)
    from . import bench

    all_scenarios = {sc.name: sc for sc in bench.scenarios(
        liked=liked, layout=args.layout, target=args.target, confidence=args.confidence,
        quick=args.quick, liked3=liked3)}
    unknown = [c for c in chosen if c not in all_scenarios]
    if unknown:
        raise ValueError(f"--scenarios: expected names from {sorted(all_scenarios)}, got "
                         f"{unknown}")
    strategies = {n: {"strategy": n} for n in names}
    print(f"fkc-align bench: {', '.join(chosen)}; strategies {', '.join(names)}; "
          f"{len(seeds)} seeds; {args.jobs} jobs", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "runs.jsonl", "a") as rows:  # each run as it ends: a killed bench keeps them
        def on_row(row: dict) -> None:
            rows.write(json.dumps(row) + "\n")
            rows.flush()

        result = bench.run_bench([all_scenarios[c] for c in chosen], seeds, strategies,
                                 jobs=args.jobs, backend=args.backend, on_row=on_row)
    paths = bench.write(result, args.out)
    for name in result["scenarios"]:
        print()
        print(bench.table(result, name))
    print(f"\n{result['wall_s']:.0f} s; wrote {', '.join(str(p) for p in paths)}")
    return 0


def make_task(args: argparse.Namespace) -> Task:
    """The built-in task ``args`` names (options already checked by :func:`check_light`)."""
    from .tasks import digits, digits_liked, digits_unet, gmm, rare_mode

    if args.task == "digits":
        return digits(DEFAULT_TARGET if args.target is None else args.target)
    if args.task == "digits-unet":
        return digits_unet(DEFAULT_TARGET if args.target is None else args.target)
    if args.task == "digits-liked":
        return digits_liked(parse_liked(args.liked))
    if args.task == "rare-mode":
        return rare_mode()
    return gmm()


def check_device(device: str | None) -> torch.device:
    """``--device`` as a torch device that exists here, else ``ValueError`` saying what is."""
    import torch

    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"--device: expected a torch device such as cpu or cuda, got "
                         f"{device!r} ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device: {device!r} asked for CUDA, but no CUDA GPU is visible to "
                         f"torch here (torch {torch.__version__}); use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"--device: {device!r}: only {torch.cuda.device_count()} CUDA "
                         f"device(s) here")
    try:
        torch.empty(1, device=dev)
    except (RuntimeError, AssertionError) as exc:
        raise ValueError(f"--device: {device!r} cannot hold tensors here ({exc})") from None
    return dev


def check_backend(backend: str, device: torch.device) -> None:
    """``--backend`` names a backend that runs on ``device``: one tiny op dispatched through it
    (so the reason and the fix come from the library's own message)."""
    import torch

    from fkc_kernels import systematic_resample

    check_backend_name(backend)
    try:
        systematic_resample(torch.zeros(1, device=device), backend=backend)
    except ValueError as exc:
        raise ValueError(f"--backend: {exc}") from None


def check_options(args: argparse.Namespace) -> Path:
    """``run``/``serve`` options, before torch is imported: a resumed run's settings read from
    its folder, a new run's defaults filled, every check that needs no task; the run folder."""
    fill_settings(args)
    check_light(args)
    return check_out(args)


def resolve_config(args: argparse.Namespace, task: Task, strategy: str) -> RunConfig:
    """The run's :class:`~fkc_align.config.RunConfig` from the options (errors name the flag)."""
    from .config import RunConfig

    try:
        return RunConfig.resolve(task, budget=args.budget, k=args.k, n_particles=args.particles,
                                 n_steps=args.steps, seed=args.seed, strategy=strategy,
                                 lam_max=args.lam_max)
    except ValueError as exc:
        raise ValueError(flag_message(str(exc))) from None


def check_args(args: argparse.Namespace) -> tuple[Task, Path, torch.device, RunConfig]:
    """Every option of ``run``/``serve`` checked before the run folder is touched:
    ``(task, out, device, config)``."""
    out = check_out(args)  # main ran check_options before the heavy imports
    task = make_task(args)
    config = resolve_config(args, task, args.strategy)
    device = check_device(args.device)
    check_backend(args.backend, device)
    return task, out, device, config


def _runs(args: argparse.Namespace, task: Task, out: Path,
          config: RunConfig) -> list[tuple[str, Path, RunConfig]]:
    """``(strategy, run folder, config)`` of the run and of each ``--baselines`` run."""
    runs = [(args.strategy, out, config)]
    if args.baselines:
        runs += [(name, out / "baselines" / name, resolve_config(args, task, name))
                 for name in baseline_names(args.strategy)]
    return runs


def baseline_names(strategy: str) -> list[str]:
    """The baselines ``--baselines`` runs beside ``strategy``."""
    return [name for name in ("fkc-eps", "greedy", "random") if name != strategy]


def _torchrun_world() -> int:
    """Number of processes torchrun launched (1 when run directly)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def cmd_run_distributed(args: argparse.Namespace) -> int:
    """``fkc-align run`` under torchrun: particles sharded over the ranks, rank 0 asks and reports.

    NCCL with one GPU per rank (``LOCAL_RANK``) when ``--device cuda``, gloo on CPUs otherwise.
    """
    import torch.distributed as dist

    from .config import Runtime
    from .distributed_loop import run_active_distributed
    from .loop import evaluate_final_model
    from .report import summary_table, write_report

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    task, out, checked, config = check_args(args)
    use_cuda = checked.type == "cuda"
    device = f"cuda:{local_rank}" if use_cuda else (args.device or "cpu")
    dist.init_process_group("nccl" if use_cuda else "gloo")
    try:
        runtime = Runtime(backend=args.backend, device=device, resume=args.resume,
                          progress=False)
        if rank == 0:
            print(f"fkc-align: task {task.name} {task.params}, budget {args.budget}, k {args.k}, "
                  f"{_torchrun_world()} ranks, run folder {out}", flush=True)
        results = {name: run_active_distributed(task, cfg, runtime=replace(runtime, out_dir=folder))
                   for name, folder, cfg in _runs(args, task, out, config)}
        if rank != 0:
            return 0
        for res in results.values():
            res.summary.update(evaluate_final_model(task, res, backend=args.backend,
                                                    device=device))
        write_report(out, task, results, extra={"world_size": _torchrun_world()})
        print()
        print(summary_table(results))
        print(f"\nreport: {out / 'report.json'}, {out / 'report.png'}, {out / 'best.png'}")
        return 0
    finally:
        dist.destroy_process_group()


def cmd_run(args: argparse.Namespace) -> int:
    if _torchrun_world() > 1:
        return cmd_run_distributed(args)
    task, out, _, config = check_args(args)
    # this process owns the folder from here to the report (RunFolderBusy names any other owner)
    with RunLock(out, "resume" if args.resume else "run") as lock:
        return _run_owned(args, task, out, config, lock)


def _run_owned(args: argparse.Namespace, task: Task, out: Path, config: RunConfig,
               lock: RunLock) -> int:
    from .config import Runtime
    from .loop import evaluate_final_model, run_active
    from .report import summary_table, write_report

    runtime = Runtime(backend=args.backend, device=args.device, resume=args.resume,
                      progress=not args.no_progress)
    print(f"fkc-align: task {task.name} {task.params}, budget {args.budget}, k {args.k}, "
          f"run folder {out}", flush=True)
    results: dict[str, ActiveResult] = {}
    walls = []
    for name, folder, cfg in _runs(args, task, out, config):
        t0 = time.perf_counter()
        # the main run's folder is this process's already: its lock is handed on
        results[name] = run_active(task, cfg, runtime=replace(
            runtime, out_dir=folder, lock=lock if folder == out else None))
        walls.append(time.perf_counter() - t0)
    fkc_wall = walls[0]
    for res in results.values():  # synthetic oracle, outside the budget (see the table's note)
        res.summary.update(evaluate_final_model(task, res, backend=args.backend,
                                                device=args.device))
    try:
        report = write_report(out, task, results, extra={"fkc_wall_time_s": fkc_wall})
    except OSError as exc:
        raise StorageError(
            exc.errno, f"writing the report into {out} failed: {describe_os_error(exc)}. Every "
            f"answer is saved in {out / FEEDBACK_FILE}; fix the folder and run the same command "
            f"with --resume to write the report") from exc
    print()
    print(summary_table(results))
    if "hits" in results[args.strategy].summary:
        print(f"{args.strategy} hits: {results[args.strategy].summary['hits']}")
    for key, value in report.get("comparison", {}).items():
        print(f"{key}: {value}")
    print(f"\nreport: {out / 'report.json'}, {out / 'report.png'}, {out / 'best.png'}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """``fkc-align serve``: the loop in a background thread, the rating page in the foreground
    until Ctrl-C; every submitted answer is in the run folder, so ``--resume`` continues."""
    try:
        from .serve import ServeSession, run_server
        from .serve.server import bind_again, is_loopback, record_address, recorded_address
    except ImportError as exc:
        raise ValueError(f"serve: needs the [serve] extra ({exc.name} is not installed): "
                         f"pip install 'fkc-kernels[serve]'") from None
    from .config import Runtime

    task, out, _, config = check_args(args)  # every option checked before the folder is touched
    # a busy port fails before the run folder is touched; --resume: the last serve's address
    sock, token = bind_again(args.host, args.port, recorded_address(out) if args.resume else None)
    # this process owns the folder while it serves (RunFolderBusy names any other owner); the
    # page's answers need no lock of their own
    with sock, RunLock(out, "serve") as lock:
        session = ServeSession(task, out, resume=args.resume, config=config,
                               runtime=Runtime(backend=args.backend, device=args.device,
                                               lock=lock))
        session.start()
        session.wait_ready()  # a run that cannot start (settings differ, ...) fails here
        record_address(out, sock, args.host, token)
        if not is_loopback(args.host):
            print(f"fkc-align serve: listening on {args.host}, not only this machine: anyone "
                  f"who can reach it and has the URL can rate", file=sys.stderr)
        print(f"fkc-align serve: task {task.name} {task.params}, budget {args.budget}, k "
              f"{args.k}, run folder {out}. Rate in your browser at (Ctrl-C stops; submitted "
              f"answers are saved, --resume continues):", flush=True)
        try:
            run_server(session, sock, token,
                       announce=lambda url: print(f"    {url}", flush=True))
        except KeyboardInterrupt:
            if session.phase != "done":
                raise  # mid-run: main says how to resume
        finally:
            session.stop()
    print(f"fkc-align serve: stopped. The run is complete: its answers and report are in "
          f"{out}" if session.phase == "done" else
          f"fkc-align serve: stopped. Answers are in {out}; continue with fkc-align serve --out "
          f"{out} --resume", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every failure is one line on stderr and exit status 2 (no traceback;
    ``FKC_ALIGN_TRACEBACK=1`` shows it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet_startup_noise()
    try:
        if args.command in ("run", "serve"):
            out = check_options(args)  # before torch: a mistyped option is answered at once
            if os.environ.get("RANK", "0") == "0":  # under torchrun: rank 0 speaks
                print(f"fkc-align {args.command}: loading torch and the {args.task} task, then "
                      f"sampling into {out}...", flush=True)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "bench":
            return cmd_bench(args)
    except KeyboardInterrupt:
        print("fkc-align: interrupted; every answer so far is saved: run the same command with "
              "--resume to continue", file=sys.stderr)
        return 130
    except Exception as exc:  # the user gets one message, not a traceback
        if os.environ.get("FKC_ALIGN_TRACEBACK") == "1":
            raise
        print(f"fkc-align: error: {_message(exc)}", file=sys.stderr)
        return 2
    return 1


def _message(exc: BaseException) -> str:
    if isinstance(exc, StorageError):
        return exc.strerror or str(exc)
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {describe_os_error(exc)}"
    if isinstance(exc, (ValueError, TimeoutError, RuntimeError, OSError)):
        return str(exc)
    return (f"{type(exc).__name__}: {exc} (an unexpected failure; FKC_ALIGN_TRACEBACK=1 shows "
            f"where)")


if __name__ == "__main__":
    sys.exit(main())
