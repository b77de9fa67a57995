# Sourced by the build scripts: with_progress LABEL CMD... runs CMD and, while it runs, prints
# a line every 10 s saying it still does, so a cold build (Kubernetes takes over 10 minutes)
# never leaves a silent terminal. Returns CMD's exit status.
with_progress() {
  local label=$1 start=$SECONDS pid status
  shift
  "$@" &
  pid=$!
  while ! wait_for "$pid" 10; do
    echo "  ... still $label ($((SECONDS - start))s)"
  done
  wait "$pid"
  status=$?
  return "$status"
}

# wait_for PID SECONDS: true once PID has ended, false if it still runs after SECONDS.
wait_for() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  ! kill -0 "$1" 2>/dev/null
}
