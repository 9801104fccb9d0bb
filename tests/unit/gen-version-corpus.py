#!/usr/bin/env python3
"""Regenerates tests/unit/data/version-corpus.txt: pairs of version strings and the order that
systemd-analyze compare-versions (the oracle) gives them. Run on a machine with systemd:
    tests/unit/gen-version-corpus.py > tests/unit/data/version-corpus.txt
Each line: A<TAB>B<TAB>one of < == >. test-version replays the file and asks systemd-analyze
itself about a sample, so the file cannot drift from the oracle unnoticed."""
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor

random.seed(20261122)
ALPHABET = "0123456789" * 3 + "abcxyzAZ" + "~^.-_+ " + "..--~~^"
REAL = ["1", "1.0", "1.0.0", "1.2", "1.10", "1.2~rc1", "1.2-1", "1.2^post1", "1.2.a", "1.2a",
        "001", "1.02", "123", "2.0~beta", "2.0~~", "v1", "V1", "1_2", "1+2", "", "~", "^", "-", ".",
        "252.38-1~deb12u1", "252", "5.10.0-21-amd64", "1.2.3.4.5", "fc33", "x86_64", "abc", "abcd"]

def rand_version():
    n = random.randint(0, 9)
    return "".join(random.choice(ALPHABET) for _ in range(n))

def mutate(v):
    if not v:
        return rand_version()
    i = random.randrange(len(v))
    return v[:i] + random.choice(ALPHABET) + v[i + 1:]

pairs = set()
for a in REAL:
    for b in REAL:
        pairs.add((a, b))
while len(pairs) < 4000:
    a = rand_version() if random.random() < 0.6 else random.choice(REAL) + rand_version()[:3]
    b = mutate(a) if random.random() < 0.6 else rand_version()
    pairs.add((a, b))

def oracle(p):
    a, b = p
    out = subprocess.run(["systemd-analyze", "compare-versions", "--", a, b], capture_output=True, text=True)
    # The output is "A OP B"; the exit status says the order without having to parse A and B.
    return {0: "==", 11: ">", 12: "<"}[out.returncode]

pairs = sorted(p for p in pairs if "\t" not in p[0] + p[1])
with ThreadPoolExecutor(8) as ex:
    results = list(ex.map(oracle, pairs))
for (a, b), r in zip(pairs, results):
    print(f"{a}\t{b}\t{r}")
