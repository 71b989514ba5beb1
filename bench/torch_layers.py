"""PyTorch's side of the benchmark: nn.RNN/GRU/LSTM forward (under no_grad) and
forward+backward (autograd) over the grid from `lua5.4 bench/grid.lua` (stdin), and
nn.RNNCell/GRUCell/LSTMCell single steps at batch 1. Writes the same CSV as
bench/layers.lua. Run by bench/compare.sh with OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and
OMP_WAIT_POLICY=passive set to match; the thread count is also set with torch.set_num_threads.

    /usr/bin/python3 bench/torch_layers.py THREADS [layers|step] < grid.txt
"""
import statistics
import sys
import time

import torch


def time_ms(fn, budget):
    fn()
    runs, spent = [], 0.0
    while len(runs) < 3 or (spent < budget and len(runs) < 15):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        runs.append(dt * 1000)
        spent += dt
    return statistics.median(runs)


def layers(threads, budget):
    print("cell,threads,T,B,H,mode,ms,gflops")
    for line in sys.stdin:
        cell, T, B, H, gates = line.split()
        T, B, H, gates = int(T), int(B), int(H), int(gates)
        module = getattr(torch.nn, cell)(H, H)
        x = torch.randn(T, B, H)
        gy = torch.randn(T, B, H)
        flops = 2 * T * B * (H + H) * gates * H

        def forward():
            with torch.no_grad():
                module(x)

        def both():
            y = module(x)[0]
            y.backward(gy)

        fwd = time_ms(forward, budget)
        fb = time_ms(both, budget)
        print("%s,%d,%d,%d,%d,forward,%.4f,%.2f" % (cell, threads, T, B, H, fwd, flops / fwd / 1e6))
        print("%s,%d,%d,%d,%d,forward+backward,%.4f,%.2f" % (cell, threads, T, B, H, fb, 3 * flops / fb / 1e6))
        sys.stdout.flush()


def steps(threads):
    print("cell,threads,H,us_per_step")
    for cell in ("RNN", "GRU", "LSTM"):
        for H in (32, 128, 512):
            module = getattr(torch.nn, cell + "Cell")(H, H)
            x = torch.randn(1, H)
            state = (torch.zeros(1, H), torch.zeros(1, H)) if cell == "LSTM" else torch.zeros(1, H)
            n = max(200, 2000000 // (H * H))

            def run():
                s = state
                with torch.no_grad():
                    for _ in range(n):
                        s = module(x, s)

            print("%s,%d,%d,%.2f" % (cell, threads, H, time_ms(run, 1.0) * 1000 / n))


if __name__ == "__main__":
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    if len(sys.argv) > 2 and sys.argv[2] == "step":
        steps(threads)
    else:
        layers(threads, float(sys.argv[3]) if len(sys.argv) > 3 else 1.0)
