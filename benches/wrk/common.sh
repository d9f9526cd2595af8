# Shared by benches/wrk.sh and benches/cluster.sh (sourced; they define `die` first): the real
# support text wrk posts, free loopback ports, and waiting for a process's HTTP endpoint.

# Writes the banking77 and bitext test messages in $1 (the datasets folder) to $2, one per line,
# JSON-escaped without quotes (the Lua script splices them into a JSON body).
write_messages() {
  python3 - "$1" "$2" <<'PY' || die "cannot read the datasets in $1"
import csv, json, sys
root, out = sys.argv[1], sys.argv[2]
texts = []
for name in ("banking77/test.csv", "bitext/test.csv"):
    with open(f"{root}/{name}", newline="") as f:
        texts += [r["text"].strip() for r in csv.DictReader(f) if r["text"].strip()]
with open(out, "w") as f:
    for t in texts:
        f.write(json.dumps(t)[1:-1] + "\n")
print(f"{len(texts)} messages", file=sys.stderr)
PY
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to 30 s for URL $1 to answer 2xx; dies if process $2 exits first, naming it $3 and
# showing log file $4 (optional).
wait_http() {
  for _ in $(seq 1 300); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    if ! kill -0 "$2" 2>/dev/null; then
      [ -n "${4:-}" ] && cat "$4" >&2
      die "$3 exited"
    fi
    sleep 0.1
  done
  die "$3 did not answer on $1"
}
