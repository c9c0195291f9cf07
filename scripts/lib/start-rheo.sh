# Sourced by the smoke scripts: `start_rheo BIN WORKDIR [SERVE ARGS...]` starts `BIN serve` on a
# free port with its data in WORKDIR/data, waits for its ready line and sets `pid` and `endpoint`
# (the caller's EXIT trap stops it). Fails with the server's stderr when it does not come up.
start_rheo() {
  local bin=$1 work=$2
  shift 2
  "$bin" serve --port 0 --data-dir "$work/data" "$@" >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 1 100); do
    grep -q 'rheo ready on' "$work/out" 2>/dev/null && break
    sleep 0.1
  done
  endpoint=$(grep -o 'http://[0-9.:]*' "$work/out" | head -n 1)
  [ -n "$endpoint" ] || { cat "$work/err"; echo "$bin did not start"; return 1; }
}
