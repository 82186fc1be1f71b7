# Sourced by the experiments' run.sh scripts: design_runs SCRIPT ARG OUT runs
# `python SCRIPT ARG SCENARIO LIKED SEEDS` for every "scenario:liked" in $combos and each seed
# range in $HALVES (both halves of the design seeds 200-215 unless set), two processes at a
# time, and gathers the rows into OUT.
# The six digits instances, and every instance the kept-pick rules were measured on: those,
# the two rare-mode layouts and the small budget (whose liked classes go unused).
DIGITS_COMBOS="multimodal:3,8 multimodal:2,5 multimodal:0,6 multimodal-3:0,4,7 multimodal-3:1,4,9
multimodal-3:0,8,9"
ALL_COMBOS="$DIGITS_COMBOS rare-mode:3,8 rare-between:3,8 small-budget:3,8"
design_runs() {
  local script=$1 arg=$2 out=$3
  for c in $combos; do for half in ${HALVES:-200-207 208-215}; do echo "${c%%:*} ${c##*:} $half"; done
  done | xargs -P 2 -L 1 bash -c "python $script $arg \"\$0\" \"\$1\" \"\$2\" \
    > $out.part.\$0.\$1.\$2"
  cat "$out".part.* > "$out" && rm -f "$out".part.*
}
