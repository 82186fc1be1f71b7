"""Command-line entry point ``fkc-align``.

``fkc-align run`` runs the active loop on a built-in task (default: digits, target 3, budget
128, k 16), optionally with the random and greedy baselines, and writes report.json,
report.png and best.png into the run folder. ``--resume`` continues a killed run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .feedback import FeedbackCorruptError, SettingsMismatchError
from .loop import ActiveResult, evaluate_final_model, run_active
from .report import summary_table, write_report
from .tasks import Task, digits, gmm

DEFAULT_TARGET = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fkc-align",
        description="Budget-constrained active preference alignment with FKC diffusion sampling.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the active loop on a built-in task",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    run.add_argument("--task", choices=("digits", "gmm"), default="digits",
                     help="built-in task")
    run.add_argument("--target", type=int, default=None,
                     help=f"digits: the digit the synthetic user wants (default {DEFAULT_TARGET})")
    run.add_argument("--budget", type=int, default=128, help="total reward queries B")
    run.add_argument("--k", type=int, default=16, help="particles shown per round")
    run.add_argument("--particles", type=int, default=None,
                     help="particles sampled per round N (default: the task's)")
    run.add_argument("--steps", type=int, default=None,
                     help="sampler steps per round (default: the task's)")
    run.add_argument("--lam-max", type=float, default=None,
                     help="guidance strength in reward standard deviations (default: the task's)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--backend", default="auto",
                     help="fkc_kernels backend: auto, reference, cpu, triton, cuda")
    run.add_argument("--device", default=None, help="torch device for sampling (default cpu)")
    run.add_argument("--out", default=None,
                     help="run folder (default runs/<task>-t<target>-b<budget>-k<k>-s<seed>)")
    run.add_argument("--resume", action="store_true",
                     help="continue the run stored in --out (same settings required)")
    run.add_argument("--baselines", action="store_true",
                     help="also run the random (eps=1, unguided) and greedy (eps=0) baselines")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    serve = sub.add_parser(
        "serve", help="the active loop with you as the oracle: rate the particles in a browser",
        description="Runs the active loop with a person as the oracle: prints a URL (with its "
                    "access token) of a page that shows each round's particles to rate with 1-5 "
                    "stars (stored as the reward stars - 3). Needs the [serve] extra.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for action in run._actions:  # the same task, model and budget options as run
        if action.dest not in ("help", "baselines", "no_progress"):
            serve._add_action(action)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (this machine only by default)")
    serve.add_argument("--port", type=int, default=8765, help="port to listen on (0: a free one)")
    return parser


def make_task(args: argparse.Namespace) -> Task:
    if args.task == "digits":
        return digits(DEFAULT_TARGET if args.target is None else args.target)
    if args.target is not None:
        raise ValueError(f"--target: applies to --task digits only, got --task {args.task}")
    return gmm()


def default_out(args: argparse.Namespace) -> Path:
    target = "" if args.task != "digits" else (
        f"-t{DEFAULT_TARGET if args.target is None else args.target}")
    return Path("runs") / f"{args.task}{target}-b{args.budget}-k{args.k}-s{args.seed}"


def _torchrun_world() -> int:
    """Number of processes torchrun launched (1 when run directly)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def cmd_run_distributed(args: argparse.Namespace) -> int:
    """``fkc-align run`` under torchrun: particles sharded over the ranks, rank 0 asks and reports.

    NCCL with one GPU per rank (``LOCAL_RANK``) when ``--device cuda``, gloo on CPUs otherwise.
    """
    import torch.distributed as dist

    from .distributed_loop import run_active_distributed

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = args.device is not None and str(args.device).startswith("cuda")
    device = f"cuda:{local_rank}" if use_cuda else (args.device or "cpu")
    dist.init_process_group("nccl" if use_cuda else "gloo")
    try:
        task = make_task(args)
        out = Path(args.out) if args.out else default_out(args)
        common = dict(budget=args.budget, k=args.k, n_particles=args.particles,
                      n_steps=args.steps, seed=args.seed, backend=args.backend, device=device,
                      resume=args.resume, lam_max=args.lam_max)
        if rank == 0:
            print(f"fkc-align: task {task.name} {task.params}, budget {args.budget}, k {args.k}, "
                  f"{_torchrun_world()} ranks, run folder {out}", flush=True)
        results = {"fkc": run_active_distributed(task, out_dir=out, strategy="fkc", **common)}
        if args.baselines:
            for name in ("random", "greedy"):
                results[name] = run_active_distributed(
                    task, out_dir=out / "baselines" / name, strategy=name, **common)
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
    task = make_task(args)
    out = Path(args.out) if args.out else default_out(args)
    progress = not args.no_progress
    common = dict(budget=args.budget, k=args.k, n_particles=args.particles, n_steps=args.steps,
                  seed=args.seed, backend=args.backend, device=args.device, resume=args.resume,
                  progress=progress, lam_max=args.lam_max)
    print(f"fkc-align: task {task.name} {task.params}, budget {args.budget}, k {args.k}, "
          f"run folder {out}", flush=True)
    results: dict[str, ActiveResult] = {}
    t0 = time.perf_counter()
    results["fkc"] = run_active(task, out_dir=out, strategy="fkc", **common)
    fkc_wall = time.perf_counter() - t0
    if args.baselines:
        for name in ("random", "greedy"):
            results[name] = run_active(task, out_dir=out / "baselines" / name, strategy=name,
                                       **common)
    for res in results.values():  # synthetic oracle, outside the budget (see the table's note)
        res.summary.update(evaluate_final_model(task, res, backend=args.backend,
                                                device=args.device))
    report = write_report(out, task, results, extra={"fkc_wall_time_s": fkc_wall})
    print()
    print(summary_table(results))
    if "hits" in results["fkc"].summary:
        print(f"fkc hits: {results['fkc'].summary['hits']}")
    for key, value in report.get("comparison", {}).items():
        print(f"{key}: {value}")
    print(f"\nreport: {out / 'report.json'}, {out / 'report.png'}, {out / 'best.png'}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """``fkc-align serve``: the loop in a background thread, the rating page in the foreground
    until Ctrl-C; every submitted answer is in the run folder, so ``--resume`` continues."""
    try:
        from .serve import ServeSession, bind, run_server
        from .serve.server import is_loopback
    except ImportError as exc:
        raise ValueError(f"serve: needs the [serve] extra ({exc.name} is not installed): "
                         f"pip install 'fkc-kernels[serve]'") from None
    task = make_task(args)
    out = Path(args.out) if args.out else default_out(args)
    sock = bind(args.host, args.port)  # a busy port fails before the run folder is touched
    options = dict(budget=args.budget, k=args.k, n_particles=args.particles, n_steps=args.steps,
                   seed=args.seed, backend=args.backend, device=args.device,
                   lam_max=args.lam_max)
    session = ServeSession(task, out, resume=args.resume, run_options=options)
    session.start()
    try:
        session.wait_ready()
    except RuntimeError as exc:
        sock.close()
        raise ValueError(str(exc)) from None
    if not is_loopback(args.host):
        print(f"fkc-align serve: listening on {args.host}, not only this machine: anyone who "
              f"can reach it and has the URL can rate", file=sys.stderr)
    print(f"fkc-align serve: task {task.name} {task.params}, budget {args.budget}, k {args.k}, "
          f"run folder {out}. Rate in your browser at (Ctrl-C stops; submitted answers are "
          f"saved, --resume continues):", flush=True)
    try:
        run_server(session, sock, announce=lambda url: print(f"    {url}", flush=True))
    finally:
        session.stop()
    print(f"fkc-align serve: stopped. Answers are in {out}; continue with the same command and "
          f"--resume", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "serve":
            return cmd_serve(args)
    except (ValueError, FileExistsError, FileNotFoundError, SettingsMismatchError,
            FeedbackCorruptError, TimeoutError) as exc:
        print(f"fkc-align: error: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
