"""A built-in strategy's rows: ``python builtin.py STRATEGY SCENARIO LIKED SEEDS`` (one JSON row
per run, naming this machine's processor)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import variant_rows  # noqa: E402

if __name__ == "__main__":
    variant_rows(sys.argv[1:], {})
