"""What the far variations are and how often a pick shows one: ``far5-all`` and ``far6-all`` on
3s, 6s and 9s, design seeds 200-207; per round the classes of the far variations (the task's
classifier, for the trace only), then per variant the share of far variations in each class
and the number of exploration picks that showed one. Output: ``trace.txt``.

    FULL=1 python docs/feedback-benchmark/far-variations/trace.py > .../trace.txt
"""

import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import variant as V  # noqa: E402

from fkc_align.tasks import digit_log_probs  # noqa: E402

_pick = V.FarExplore.pick
counts: collections.Counter = collections.Counter()
shown: list[int] = []


def traced_pick(self, view):
    out = _pick(self, view)
    first_far = len(view.x) - V.FAR["n"]
    cls = digit_log_probs(view.x[first_far:]).argmax(1).tolist() if V.FAR["n"] else []
    far = [i for i in out.index.tolist() if i >= first_far]
    got = digit_log_probs(view.x[far]).argmax(1).tolist() if far else []
    counts.update(cls)
    shown.extend(got)
    print(f"  round {view.round}: {len(cls)} far variations, classes "
          f"{dict(sorted(collections.Counter(cls).items()))}; far picks shown {got}")
    return out


V.FarExplore.pick = traced_pick

for mode in ("far5-all", "far6-all"):
    counts.clear()
    shown.clear()
    print(f"== {mode}")
    V.main([mode, "multimodal-3", "3,6,9", "200-207"])
    total = sum(counts.values())
    share = {c: round(n / total, 3) for c, n in sorted(counts.items())}
    print(f"{mode}: {total} far variations, share per class {share}; "
          f"{len(shown)} far picks shown in 8 runs, classes {sorted(shown)}")
