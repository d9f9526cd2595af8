"""K-fold held-out accuracy of `personabot learn` on a TRAINING file: how learn's settings were
chosen without looking at any test split (see src/owner/learn/).

    python3 benches/kfold.py ../shared/datasets/banking77/train.csv [--none-label none]
                             [--bin target/release/personabot] [--folds 5]

The rows are split into stratified folds (fixed seed 12345); each fold is scored by profiles
learned on the others, and the pooled accuracy, mean macro-F1 (and with a none label, in-scope
accuracy and none recall) are printed.
"""
import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import tempfile


def folds(rows, k, seed=12345):
    by_label = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(r)
    rng = random.Random(seed)
    out = [[] for _ in range(k)]
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        for i, r in enumerate(group):
            out[i % k].append(r)
    return out


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows((r["text"], r["label"]) for r in rows)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("--none-label")
    ap.add_argument("--bin", default=os.path.join(root, "target", "release", "personabot"))
    ap.add_argument("--folds", type=int, default=5)
    a = ap.parse_args()
    rows = list(csv.DictReader(open(a.train, newline="", encoding="utf-8")))
    parts = folds(rows, a.folds)
    extra = ["--none-label", a.none_label] if a.none_label else []
    work = tempfile.mkdtemp(prefix="personabot-kfold-")
    n = correct = 0
    f1, in_scope, none_recall = [], [], []
    try:
        for i in range(a.folds):
            train, dev, out = (os.path.join(work, f"{x}{i}") for x in ("train", "dev", "out"))
            write(train + ".csv", [r for j, p in enumerate(parts) if j != i for r in p])
            write(dev + ".csv", parts[i])
            subprocess.run([a.bin, "learn", "--data", train + ".csv", "--out", out] + extra,
                           check=True, capture_output=True)
            result = subprocess.run([a.bin, "--catalog", out, "eval", "--data", dev + ".csv",
                                     "--json"] + extra, check=True, capture_output=True, text=True)
            j = json.loads(result.stdout)
            n += j["n"]
            correct += j["correct"]
            f1.append(j["macro_f1"])
            if "none_recall" in j:
                in_scope.append(j["in_scope_accuracy"])
                none_recall.append(j["none_recall"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mean = lambda xs: sum(xs) / len(xs)
    line = f"{a.folds}-fold held-out accuracy {correct / n:.4f} ({correct}/{n}), macro-F1 {mean(f1):.4f}"
    if in_scope:
        line += f", in scope {mean(in_scope):.4f}, none recall {mean(none_recall):.4f}"
    print(line)


if __name__ == "__main__":
    main()
