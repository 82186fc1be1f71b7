"""rule.md's verdict: typ1-gs − default on the held-out seeds 476-507, per instance and
pooled, the bars each meets, and each of the rule's five conditions.

    python docs/feedback-benchmark/typical-visited/summary.py
"""

import sys
from pathlib import Path

here = Path(__file__).parent
sys.path.insert(0, str(here.parent))

from design_rows import rule_verdict  # noqa: E402

if __name__ == "__main__":
    rule_verdict(here, "typ1-gs", "476-507")
