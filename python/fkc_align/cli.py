"""Command-line entry point ``fkc-align``."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fkc-align")
    parser.parse_args(argv)
    return 0
