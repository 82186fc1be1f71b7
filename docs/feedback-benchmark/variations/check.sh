#!/bin/bash
# The library's default after the change against var3's rows, and -novariations against the
# old default's, on held-out seeds 300-307 of 3s and 8s and of 0s, 4s and 7s: the rows must be
# equal (printed: equal / compared).
set -e
export FULL=1
here=docs/feedback-benchmark/variations
for pair in fkc-explore:var3 fkc-explore-novariations:fkc-explore; do
  now=${pair%%:*} before=${pair##*:}
  for c in multimodal:3,8 multimodal-3:0,4,7; do
    python $here/variant.py $now ${c%%:*} ${c##*:} 300-307
  done > /tmp/check-$now.jsonl
  python - /tmp/check-$now.jsonl $here/rows-$before-heldout-300-315.jsonl <<'PY'
import json, sys
now = [json.loads(line) for line in open(sys.argv[1])]
before = {(r["scenario"], tuple(r["liked"]), r["seed"]): r
          for r in map(json.loads, open(sys.argv[2]))}
keys = ("hit_rate", "coverage", "balance", "distinct_nearest", "eval_hit_rate")
same = sum(all(r[k] == before[(r["scenario"], tuple(r["liked"]), r["seed"])][k] for k in keys)
           for r in now)
print(f"{now[0]['strategy']} against {sys.argv[2].split('/')[-1]}: {same} equal / {len(now)}")
PY
done
