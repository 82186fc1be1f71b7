"""rule.md's verdict: share0.75 − default on the held-out seeds 508-539, per instance and
pooled, the bars each meets, and each of the rule's five conditions.

    python docs/feedback-benchmark/keep-share/verdict.py > .../verdict.txt
"""

import sys
from pathlib import Path

here = Path(__file__).parent
sys.path.insert(0, str(here.parent))

from design_rows import rule_verdict  # noqa: E402

if __name__ == "__main__":
    rule_verdict(here, "share0.75", "508-539")
