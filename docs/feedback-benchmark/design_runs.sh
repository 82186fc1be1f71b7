# Sourced by the experiments' run.sh scripts: design_runs SCRIPT ARG OUT runs
# `python SCRIPT ARG SCENARIO LIKED SEEDS` for every "scenario:liked" in $combos and both halves
# of the design seeds 200-215, two processes at a time, and gathers the rows into OUT.
design_runs() {
  local script=$1 arg=$2 out=$3
  for c in $combos; do for half in 200-207 208-215; do echo "${c%%:*} ${c##*:} $half"; done
  done | xargs -P 2 -L 1 bash -c "python $script $arg \"\$0\" \"\$1\" \"\$2\" \
    > $out.part.\$0.\$1.\$2"
  cat "$out".part.* > "$out" && rm -f "$out".part.*
}
