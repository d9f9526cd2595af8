"""Scale-out simulation (docs/scaling.md): N `personabot serve` shard processes on this machine,
each with its own sled store, conversations partitioned by a hash of their id, then one review
merged from the N stores (`personabot review --shard DIR...`).

    python3 benches/shards.py [--bin target/release/personabot] [--data FILE.csv] [--limit N]
                              [--shards 1,2,4] [--clients 8]

For every shard count it prints the messages sent and acknowledged, the wall time and rate,
the time of the merged review, and checks that the merged review counts every acknowledged
message once and reports the same per-persona numbers as the one-process run.
"""
import argparse
import csv
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zlib


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BRIDGE_TOKEN = "shards-bench-bridge-token-0123"


def shard_of(conversation, shards):
    # Any stable hash works; the router and every client must agree on it.
    return zlib.crc32(conversation.encode()) % shards


def wait_healthy(port, deadline):
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return True
        except OSError:
            time.sleep(0.05)
    return False


def client(args):
    """Sends its slice of the messages, each to its conversation's shard, over keep-alive
    connections; returns how many were acknowledged (HTTP 200)."""
    ports, rows, first, step = args
    conns = {}
    acked = 0
    for i in range(first, len(rows), step):
        conversation = f"c{i}"
        port = ports[shard_of(conversation, len(ports))]
        body = json.dumps({"channel": "shards", "conversation": conversation, "user": f"user{i}", "text": rows[i]})
        for _attempt in range(3):
            try:
                c = conns.get(port) or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conns[port] = c
                c.request("POST", "/v1/messages", body, {"content-type": "application/json", "authorization": "Bearer " + BRIDGE_TOKEN})
                r = c.getresponse()
                r.read()
                acked += r.status == 200
                break
            except (OSError, http.client.HTTPException):
                conns.pop(port, None)
    return acked


def review(binary, dirs):
    cmd = [binary, "--data", dirs[0], "review", "--json"]
    for d in dirs[1:]:
        cmd += ["--shard", d]
    started = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout), time.time() - started


def persona_rows(report):
    keep = ("messages", "answers", "tickets", "clarify", "fallback", "decided")
    return {p["id"]: {k: p[k] for k in keep} for p in report["personas"]}


def run(binary, rows, shards, clients):
    work = tempfile.mkdtemp(prefix=f"personabot-shards{shards}-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONABOT")}
    env["PERSONABOT__PRIVACY__USER_HASH_KEY"] = "shards-bench"
    # The messages come through a chat bridge (`"channel": "shards"`) with their own ids.
    env["PERSONABOT__BRIDGES__SHARDS__TOKEN"] = BRIDGE_TOKEN
    procs, ports, dirs = [], [], []
    try:
        for n in range(shards):
            port = free_port()
            data = os.path.join(work, f"shard{n}")
            procs.append(subprocess.Popen(
                [binary, "--data", data, "serve", "--listen", f"127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=work))
            ports.append(port)
            dirs.append(data)
        for port in ports:
            if not wait_healthy(port, time.time() + 30):
                sys.exit(f"shard on port {port} did not start")
        started = time.time()
        with multiprocessing.Pool(clients) as pool:
            acked = sum(pool.map(client, [(ports, rows, k, clients) for k in range(clients)]))
        elapsed = time.time() - started
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    os.environ["PERSONABOT__PRIVACY__USER_HASH_KEY"] = "shards-bench"
    report, review_s = review(binary, dirs)
    per_shard = []
    for d in dirs:
        one, _ = review(binary, [d])
        per_shard.append(one["messages"])
    shutil.rmtree(work, ignore_errors=True)
    return {
        "shards": shards,
        "sent": len(rows),
        "acked": acked,
        "seconds": elapsed,
        "per_shard": per_shard,
        "review_messages": report["messages"],
        "review_seconds": review_s,
        "personas": persona_rows(report),
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(root, "target", "release", "personabot"))
    ap.add_argument("--data", default=os.path.join(root, "..", "shared", "datasets", "bitext", "train.csv"))
    ap.add_argument("--limit", type=int, default=6000)
    ap.add_argument("--shards", default="1,2,4")
    ap.add_argument("--clients", type=int, default=8)
    a = ap.parse_args()
    rows = [r["text"] for r in csv.DictReader(open(a.data, newline=""))][: a.limit]
    results = [run(a.bin, rows, int(n), a.clients) for n in a.shards.split(",")]
    base = results[0]
    print(f"{'shards':>6} {'sent':>6} {'acked':>6} {'msgs/s':>8} {'per shard':>22} {'merged review':>14} {'same as ' + str(base['shards']) + ' shard':>16}")
    ok = True
    for r in results:
        same = r["personas"] == base["personas"]
        complete = r["acked"] == r["sent"] == r["review_messages"] == sum(r["per_shard"])
        ok &= same and complete
        print(f"{r['shards']:>6} {r['sent']:>6} {r['acked']:>6} {r['sent'] / r['seconds']:>8.0f} "
              f"{'/'.join(map(str, r['per_shard'])):>22} {r['review_seconds'] * 1000:>11.0f} ms "
              f"{'yes' if same else 'NO':>16}")
    print(f"cpus: {os.cpu_count()} (every shard and the clients share them)")
    if not ok:
        sys.exit("FAILED: a merged review lost or double-counted messages, or differs from the one-process run")


if __name__ == "__main__":
    main()
