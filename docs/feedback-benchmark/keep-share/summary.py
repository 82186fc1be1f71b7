"""Each kept-pick share against the default on the design seeds 200-215 (the default's
rows: keep-floor/ and, for 3s 6s 9s, typical-visited/; one processor model), then the means.

    python docs/feedback-benchmark/keep-share/summary.py > .../summary.txt
"""

import sys
from pathlib import Path

here = Path(__file__).parent
sys.path.insert(0, str(here.parent))

from design_rows import variants_summary  # noqa: E402

if __name__ == "__main__":
    variants_summary(here, ["share0.75", "share0.5"])
