#!/usr/bin/env python3
"""Generate a synthetic classification workload for benches/compare.sh.

Writes into --out DIR:
  intents/iNNNN.toml   one intent per file, only a [keywords] table, all weights 1.0
  personas/            empty (a catalog dir needs both folders)
  keywords.json        {"iNNNN": [keyword, ...], ...} for flashtext's add_keywords_from_dict
  messages.txt         one message per line

Python 3 standard library only; the output depends only on the arguments (--seed).

Design notes (so that flashtext and personabot *should* agree exactly):
  * Vocabulary: pronounceable lowercase ASCII words, no digits, no underscores.
  * Keywords are globally unique; ~80% single words, ~20% phrases of 2-3 words.
    A phrase's first word is, about half the time, a single-word keyword (of any intent),
    so "longest match wins and consumes" is exercised; its other words come from a pool
    used nowhere else (never a single keyword, never filler, never in another phrase).
  * Filler words are disjoint from every keyword word.
  * Phrases are written with single spaces and no punctuation inside, because flashtext
    only matches a phrase written exactly that way (personabot also matches across
    punctuation, which would otherwise be a spurious disagreement).
  * Each message has 2-5 keyword hits; its "true" intent gets strictly more hits than any
    other intent, so the top intent is unambiguous. Case is mixed (Capitalised, some
    ALL-CAPS words) and punctuation (',', '?', '!', '.') is sprinkled between words.
  * --no-hit-rate (default 0) makes that fraction of messages filler-only, to exercise the
    "none" count.
"""
import argparse
import json
import os
import random
import sys

CONSONANTS = list("bcdfghjklmnprstvz") + ["ch", "sh", "th", "tr", "br", "st", "pl", "gr"]
VOWELS = list("aeiou") + ["ai", "ea", "ou", "io"]
CODAS = [""] * 6 + list("nrsltmk")


class WordMaker:
    """Unique pronounceable words; every word handed out is never handed out again."""

    def __init__(self, rng):
        self.rng = rng
        self.used = set()

    def make(self):
        rng = self.rng
        for _ in range(1000):
            n = rng.choice((2, 2, 3, 3, 3, 4))
            w = "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(n))
            w += rng.choice(CODAS)
            if w not in self.used and 4 <= len(w) <= 14:
                self.used.add(w)
                return w
        raise RuntimeError("vocabulary exhausted")

    def many(self, n):
        return [self.make() for _ in range(n)]


def build_catalog(rng, n_intents, n_keywords, phrase_rate):
    words = WordMaker(rng)
    width = max(4, len(str(n_intents)))
    ids = ["i%0*d" % (width, i + 1) for i in range(n_intents)]
    total = n_intents * n_keywords
    kinds = [rng.random() < phrase_rate for _ in range(total)]  # True = phrase
    singles_needed = sum(1 for k in kinds if not k)
    single_pool = words.many(singles_needed)
    keywords = {i: [] for i in ids}
    all_singles = list(single_pool)
    si = 0
    pos = 0
    for intent in ids:
        for _ in range(n_keywords):
            is_phrase = kinds[pos]
            pos += 1
            if not is_phrase:
                keywords[intent].append(single_pool[si])
                si += 1
                continue
            n_words = rng.choice((2, 2, 3))
            if all_singles and rng.random() < 0.5:
                head = rng.choice(all_singles)  # overlaps a single keyword: longest match
            else:
                head = words.make()
            phrase = " ".join([head] + words.many(n_words - 1))
            keywords[intent].append(phrase)
    return ids, keywords, words


def make_message(rng, ids, keywords, filler, no_hit):
    hits = []  # list of keyword strings
    if not no_hit:
        k = rng.randint(2, 5)
        # off-topic hits, each from a distinct other intent, always fewer than the true ones
        max_off = (k - 1) // 2  # k=2 ->0, 3,4 ->1, 5 ->2
        n_off = rng.randint(0, max_off)
        true_intent = rng.choice(ids)
        n_true = k - n_off
        hits += [rng.choice(keywords[true_intent]) for _ in range(n_true)]
        others = set()
        while len(others) < n_off and len(ids) > 1:
            o = rng.choice(ids)
            if o != true_intent:
                others.add(o)
        for o in sorted(others):
            hits.append(rng.choice(keywords[o]))
    hit_words = sum(len(h.split()) for h in hits)
    length = max(rng.randint(8, 40), hit_words + 2)
    n_filler = length - hit_words
    units = [rng.choice(filler) for _ in range(n_filler)] + hits
    rng.shuffle(units)
    # Two adjacent keyword units could merge only if a phrase continued across them; phrase
    # tails never occur alone, so adjacency is harmless. Still keep a filler between hits
    # where cheap, which also reads more naturally.
    out = []
    for idx, unit in enumerate(units):
        parts = unit.split(" ")
        r = rng.random()
        if r < 0.12:
            parts = [p.capitalize() for p in parts]
        elif r < 0.15:
            parts = [p.upper() for p in parts]
        text = " ".join(parts)
        if idx == 0:
            text = text[0].upper() + text[1:]
        if idx == len(units) - 1:
            text += rng.choice(("?", "?", "!", ".", "", "!!", "?!"))
        elif rng.random() < 0.12:
            text += rng.choice((",", ",", ",", "?", "!", ".", ";", " -", ":"))
        out.append(text)
    return " ".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--intents", type=int, required=True)
    ap.add_argument("--keywords", type=int, required=True, help="keywords per intent")
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--filler", type=int, default=3000, help="filler vocabulary size")
    ap.add_argument("--phrase-rate", type=float, default=0.2)
    ap.add_argument("--no-hit-rate", type=float, default=0.0)
    a = ap.parse_args(argv)
    if a.intents < 1 or a.keywords < 1 or a.messages < 0:
        ap.error("--intents and --keywords must be >= 1, --messages >= 0")

    rng = random.Random(a.seed)
    ids, keywords, words = build_catalog(rng, a.intents, a.keywords, a.phrase_rate)
    filler = words.many(a.filler)  # same WordMaker: disjoint from every keyword word

    os.makedirs(os.path.join(a.out, "intents"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "personas"), exist_ok=True)
    for intent in ids:
        lines = ["[keywords]"]
        for kw in keywords[intent]:
            key = kw if " " not in kw else json.dumps(kw)
            lines.append("%s = 1.0" % key)
        with open(os.path.join(a.out, "intents", intent + ".toml"), "w") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(a.out, "keywords.json"), "w") as f:
        json.dump(keywords, f, indent=0, sort_keys=True)

    with open(os.path.join(a.out, "messages.txt"), "w") as f:
        for _ in range(a.messages):
            no_hit = a.no_hit_rate > 0 and rng.random() < a.no_hit_rate
            f.write(make_message(rng, ids, keywords, filler, no_hit) + "\n")

    n_kw = sum(len(v) for v in keywords.values())
    n_phr = sum(1 for v in keywords.values() for k in v if " " in k)
    print("generated %s: %d intents, %d keywords (%d phrases), %d messages"
          % (a.out, len(ids), n_kw, n_phr, a.messages), file=sys.stderr)


if __name__ == "__main__":
    main()
