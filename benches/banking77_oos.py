#!/usr/bin/env python3
"""Out-of-scope rejection of `personabot learn --none-label` on banking77-oos, and on messages
from a source it never saw (bitext's generic customer service, all out of scope for a bank).

    python3 benches/banking77_oos.py [--datasets ../shared/datasets] [--bin target/release/personabot]
                                     [--dev] [--max-in-scope-loss 0.01]

Learns on banking77-oos train + valid (`oos` is the none label; learn holds out 10% of the rows
to calibrate its threshold), then scores banking77-oos test (in scope, and in-domain `oos`) and
bitext test (every row `oos`). With --dev it learns on train only and scores valid and bitext
val instead, leaving both test files unread (the way the method was chosen). For each file it
prints in-scope accuracy at the learned threshold and with no threshold (the trade-off's 0 row),
and none recall.
"""
import argparse
import csv
import json
import os
import shutil
import subprocess
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("--datasets", default=os.path.join(root, "..", "shared", "datasets"))
parser.add_argument("--bin", default=os.path.join(root, "target", "release", "personabot"))
parser.add_argument("--dev", action="store_true")
parser.add_argument("--max-in-scope-loss")
args = parser.parse_args()


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [(r["text"], r["label"]) for r in csv.DictReader(f)]


def write(path, data):
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["text", "label"])
        out.writerows(data)


oos = os.path.join(args.datasets, "banking77-oos")
bitext = os.path.join(args.datasets, "bitext")
if args.dev:
    learn_rows = rows(os.path.join(oos, "train.csv"))
    scored = [("banking77-oos valid", rows(os.path.join(oos, "valid.csv"))),
              ("bitext val (unseen source)", rows(os.path.join(bitext, "val.csv")))]
else:
    learn_rows = rows(os.path.join(oos, "train.csv")) + rows(os.path.join(oos, "valid.csv"))
    scored = [("banking77-oos test", rows(os.path.join(oos, "test.csv"))),
              ("bitext test (unseen source)", rows(os.path.join(bitext, "test.csv")))]
# Every bitext row is out of scope for a banking catalog.
scored[1] = (scored[1][0], [(text, "oos") for text, _ in scored[1][1]])

work = tempfile.mkdtemp(prefix="personabot-oos-")
try:
    data = os.path.join(work, "learn.csv")
    write(data, learn_rows)
    catalog = os.path.join(work, "catalog")
    extra = ["--max-in-scope-loss", args.max_in_scope_loss] if args.max_in_scope_loss else []
    learned = subprocess.run([args.bin, "learn", "--data", data, "--out", catalog,
                              "--none-label", "oos"] + extra,
                             check=True, capture_output=True, text=True)
    print(learned.stdout, end="")
    for name, data_rows in scored:
        path = os.path.join(work, "score.csv")
        write(path, data_rows)
        result = subprocess.run([args.bin, "--catalog", catalog, "eval", "--data", path,
                                 "--none-label", "oos", "--json"],
                                check=True, capture_output=True, text=True)
        j = json.loads(result.stdout)
        unrejected = j["tradeoff"][0]["in_scope_accuracy"]
        line = f"{name}: none recall {j['none_recall']:.4f} over {j['none_support']} rows"
        if j["in_scope_n"]:
            line += (f"; in-scope accuracy {j['in_scope_accuracy']:.4f} over {j['in_scope_n']} rows"
                     f" ({unrejected:.4f} with no threshold)")
        print(line)
finally:
    shutil.rmtree(work, ignore_errors=True)
