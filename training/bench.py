"""Time the exported model under ai-edge-litert on this machine (run with the project venv).

    .venv/bin/python -m training.bench pinozcam_klipper/models/pinozcam-det.tflite --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def bench(path: str, threads: int, runs: int) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=path, num_threads=threads)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    x = np.random.default_rng(0).integers(-128, 128, inp["shape"]).astype(inp["dtype"])
    for _ in range(5):
        interp.set_tensor(inp["index"], x)
        interp.invoke()
    times = []
    for _ in range(runs):
        interp.set_tensor(inp["index"], x)
        t = time.perf_counter()
        interp.invoke()
        times.append((time.perf_counter() - t) * 1e3)
    return {"threads": threads, "runs": runs, "median_ms": round(statistics.median(times), 2),
            "min_ms": round(min(times), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    print(bench(args.model, args.threads, args.runs))


if __name__ == "__main__":
    main()
