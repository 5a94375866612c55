"""Fetch 8-device pmap results in a loop until interrupted: `fetch_loop.py asarray` gathers each
whole result, `fetch_loop.py index` reads one device's row. Prints "looping" once started."""
import sys

import numpy as np

import spmd

double = spmd.pmap(lambda x: x * 2)
x = np.arange(8 * 16, dtype=np.float32).reshape(8, 16)
fetch = {"asarray": lambda out, n: np.asarray(out),
         "index": lambda out, n: np.asarray(out[n % 8])}[sys.argv[1]]
n = 0
while True:
    fetch(double(x), n)
    if n == 0:
        print("looping", flush=True)
    n += 1
