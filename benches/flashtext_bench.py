#!/usr/bin/env python3
"""flashtext baseline for benches/compare.sh.

usage: flashtext_bench.py WORKLOAD_DIR            (reads keywords.json and messages.txt)
       flashtext_bench.py --keywords K.json --messages M.txt

Prints one JSON object, the same shape as `personabot classify --summary -`:
  {"messages": N, "counts": {label: n, ...}, "none": n, "elapsed_ms": .., "msgs_per_sec": ..}
Only the extraction + counting loop is timed (time.perf_counter, one thread). Per message the
label with the most hits wins; ties go to the smallest label (lexicographic); a message with
no hit counts in "none". Keyword loading (trie build) is timed separately and reported as
"load_ms" (an extra field).
"""
import argparse
import json
import os
import sys
import time

try:
    from flashtext import KeywordProcessor
except ImportError:  # pragma: no cover
    sys.exit("flashtext is not installed (pip install flashtext); compare.sh sets up a venv")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", nargs="?", help="dir holding keywords.json and messages.txt")
    ap.add_argument("--keywords")
    ap.add_argument("--messages")
    a = ap.parse_args(argv)
    kw_path = a.keywords or (a.workload and os.path.join(a.workload, "keywords.json"))
    msg_path = a.messages or (a.workload and os.path.join(a.workload, "messages.txt"))
    if not kw_path or not msg_path:
        ap.error("give WORKLOAD_DIR or both --keywords and --messages")

    with open(kw_path) as f:
        keywords = json.load(f)
    with open(msg_path, encoding="utf-8") as f:
        messages = f.read().splitlines()

    t0 = time.perf_counter()
    kp = KeywordProcessor()  # case_sensitive=False (default): lowercases keywords and text
    kp.add_keywords_from_dict(keywords)
    load_ms = (time.perf_counter() - t0) * 1000.0

    counts = {}
    none = 0
    extract = kp.extract_keywords
    start = time.perf_counter()
    for msg in messages:
        labels = extract(msg)
        if not labels:
            none += 1
            continue
        per = {}
        for lab in labels:
            per[lab] = per.get(lab, 0) + 1
        # most hits, ties -> smallest label: min over (-hits, label)
        best = min(per.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        counts[best] = counts.get(best, 0) + 1
    elapsed = time.perf_counter() - start

    n = len(messages)
    out = {
        "messages": n,
        "counts": dict(sorted(counts.items())),
        "none": none,
        "elapsed_ms": round(elapsed * 1000.0, 3),
        "msgs_per_sec": round(n / elapsed, 1) if elapsed > 0 else None,
        "load_ms": round(load_ms, 3),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
