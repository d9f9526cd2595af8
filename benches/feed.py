"""Feeds the `text` column of a CSV to a running `personabot serve`, one conversation per message,
over 8 HTTP connections: a quick way to fill an evidence store with real customer messages
(e.g. ../shared/datasets/bitext/train.csv) for `review`, `suggest` and `replay`.

    PERSONABOT__BRIDGES__FEED__TOKEN=<20+ chars> personabot serve   # declares the `feed` bridge
    PERSONABOT__BRIDGES__FEED__TOKEN=<same> python3 benches/feed.py http://127.0.0.1:8080 FILE.csv [LIMIT] [PREFIX]

PREFIX names the conversations (default `c`): feed a second file with another prefix so its
messages do not continue the first file's conversations."""
import csv, json, os, sys, threading, urllib.request, time
token = os.environ["PERSONABOT__BRIDGES__FEED__TOKEN"]
base, path = sys.argv[1], sys.argv[2]
limit = int(sys.argv[3]) if len(sys.argv) > 3 else 10**9
prefix = sys.argv[4] if len(sys.argv) > 4 else "c"
rows = [r["text"] for r in csv.DictReader(open(path))][:limit]
lock = threading.Lock(); idx = [0]; errors = [0]
def worker():
    while True:
        with lock:
            i = idx[0]; idx[0] += 1
        if i >= len(rows): return
        body = json.dumps({"channel": "feed", "conversation": f"{prefix}{i}", "user": f"{prefix}-user{i}", "text": rows[i]}).encode()
        req = urllib.request.Request(base + "/v1/messages", body, {"content-type": "application/json", "authorization": "Bearer " + token})
        try:
            urllib.request.urlopen(req).read()
        except Exception as e:
            with lock: errors[0] += 1
t = time.time()
ts = [threading.Thread(target=worker) for _ in range(8)]
[x.start() for x in ts]; [x.join() for x in ts]
print(f"sent {len(rows)} in {time.time()-t:.1f}s, errors {errors[0]}")
