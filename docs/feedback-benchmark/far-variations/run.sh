#!/bin/bash
# The variants on the design seeds 200-215: the three instances with 9s (the central liked
# class), both rare modes and the small budget first; the other instances after, if those hold.
# Run from the repository root; rows in rows-VARIANT-design.jsonl.
set -e
COMBOS="multimodal-3:3,6,9 multimodal-3:0,8,9 multimodal-3:1,4,9 rare-mode:3,8 rare-between:3,8 small-budget:3,8" \
  bash docs/feedback-benchmark/run_variants.sh far-variations far5-all far6-all far5-one
