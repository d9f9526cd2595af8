#!/usr/bin/env python3
"""Builds an out-of-scope test for `learn`/`eval --none-label none` from the shared datasets.

In scope: banking77 (its own train/test split). Out of scope, labelled `none`: bitext's
generic customer-service messages (orders, deliveries, accounts...), which banking77 does not
cover. Train gets the first N bitext train rows (default 1000); test gets all bitext test rows.

    python3 benches/none_label_split.py OUTDIR [--datasets ../shared/datasets] [--none-rows 1000]

writes OUTDIR/train.csv and OUTDIR/test.csv (columns text,label).
"""
import argparse
import csv
import os

here = os.path.dirname(os.path.abspath(__file__))
parser = argparse.ArgumentParser()
parser.add_argument("outdir")
parser.add_argument("--datasets", default=os.path.join(here, "..", "..", "shared", "datasets"))
parser.add_argument("--none-rows", type=int, default=1000)
args = parser.parse_args()


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [(r["text"], r["label"]) for r in csv.DictReader(f)]


os.makedirs(args.outdir, exist_ok=True)
for split, none_rows in (("train", args.none_rows), ("test", None)):
    banking = rows(os.path.join(args.datasets, "banking77", f"{split}.csv"))
    bitext = rows(os.path.join(args.datasets, "bitext", f"{split}.csv"))
    if none_rows is not None:
        bitext = bitext[:none_rows]
    with open(os.path.join(args.outdir, f"{split}.csv"), "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["text", "label"])
        out.writerows(banking)
        out.writerows((text, "none") for text, _ in bitext)
    print(f"{split}: {len(banking)} in scope, {len(bitext)} none")
