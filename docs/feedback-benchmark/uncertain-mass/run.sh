#!/bin/bash
# The variants on the design seeds 200-215: the nine instances of run_variants.sh and 3s 6s 9s.
# Run from the repository root; rows in rows-MODE-design.jsonl.
set -e
COMBOS="$(source docs/feedback-benchmark/design_runs.sh; echo $ALL_COMBOS) multimodal-3:3,6,9" \
  bash docs/feedback-benchmark/run_variants.sh uncertain-mass msd msd-first
