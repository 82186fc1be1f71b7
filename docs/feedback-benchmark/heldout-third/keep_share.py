"""The keep-share experiment of docs/feedback-benchmark.md ("A third instance"): the default
with at most ``SHARE`` of the exploitation picks kept (the rest drawn from the tilted target),
one JSON row per run, strategy ``keep<SHARE>`` (``keep1`` is the default itself).

    python docs/feedback-benchmark/heldout-third/keep_share.py SCENARIO LIKED SEEDS SHARE
"""

import sys
from pathlib import Path

from fkc_align import strategies as S

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import print_rows  # noqa: E402


def main(argv: list[str]) -> None:
    name, liked, seeds, share = argv[0], argv[1], argv[2], float(argv[3])
    tag = f"keep{share:g}"
    S.register_strategy(tag, S.FKCExplore(keep_share=share), replace=True)
    print_rows(name, tuple(int(c) for c in liked.split(",")), seeds, tag)


if __name__ == "__main__":
    main(sys.argv[1:])
