"""Paired differences of the tilted-pool variants (``variant.py``) against the default on the
design seeds 200-215, UCB's lead over each and the means against the bars; then the held-out
rows, where they exist (``design_rows.design_summary``).

    python docs/feedback-benchmark/pool-tilt/summary.py [HELD-OUT SEEDS, default 444-475]
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from design_rows import design_summary  # noqa: E402

if __name__ == "__main__":
    design_summary(HERE, sys.argv[1] if len(sys.argv) > 1 else "444-475")
