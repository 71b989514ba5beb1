"""Data-parallel scaling of recur on one machine: char-rnn (2x128 LSTM, global batch 50,
50 characters) trained by recur as 1 process (1 and 2 OpenBLAS threads) and as 2 MPI
ranks of 1 thread (recur.distributed), against PyTorch as 1 process (1 and 2 threads) and
as 2 DistributedDataParallel processes over gloo. Every side is a persistent process
(bench/distributed.lua, bench/distributed_torch.py); rounds run each side for STEPS steps
in turn, the order reversed every round, and the table gives the median chars/s with its
min-max over rounds, the ratios per round (median, min-max), and recur's allreduce time per
step (the exchange, timed after a barrier) and its wait for the slower rank.
  python3 bench/distributed.py            # ROUNDS=5 STEPS=20 by default
  ROUNDS=3 STEPS=10 python3 bench/distributed.py
"""
import os
import statistics
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ROUNDS = int(os.environ.get("ROUNDS", 5))
STEPS = int(os.environ.get("STEPS", 20))
CHARS_PER_STEP = 50 * 50
MPIRUN = ["mpirun", "--oversubscribe", "--allow-run-as-root", "--bind-to", "none", "-np", "2"]
# PyTorch's best: glibc keeps freed blocks instead of returning them to the kernel
TORCH_ENV = {"OMP_WAIT_POLICY": "passive",
             "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"}
TORCH = ["/usr/bin/python3", "bench/distributed_torch.py"]

SIDES = [
    ("recur 1 process x 1 thread", ["lua5.4", "bench/distributed.lua", "--threads", "1"],
     {"OPENBLAS_NUM_THREADS": "1"}),
    ("recur 1 process x 2 threads", ["lua5.4", "bench/distributed.lua", "--threads", "2"],
     {"OPENBLAS_NUM_THREADS": "2"}),
    ("recur 2 MPI ranks x 1 thread", MPIRUN + ["lua5.4", "bench/distributed.lua", "--distributed"],
     {"OPENBLAS_NUM_THREADS": "1"}),
    ("torch 1 process x 1 thread", TORCH + ["--procs", "1", "--threads", "1"], dict(TORCH_ENV, OMP_NUM_THREADS="1")),
    ("torch 1 process x 2 threads", TORCH + ["--procs", "1", "--threads", "2"], dict(TORCH_ENV, OMP_NUM_THREADS="2")),
    ("torch 2 DDP processes (gloo) x 1 thread", TORCH + ["--procs", "2", "--threads", "1"],
     dict(TORCH_ENV, OMP_NUM_THREADS="1")),
]
RECUR_1, RECUR_MPI = SIDES[0][0], SIDES[2][0]
TORCH_2CORE = [SIDES[4][0], SIDES[5][0]]


def shell(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True, cwd=ROOT).stdout.strip()


def start(cmd, env):
    p = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, **env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline().strip()
    if line != "ready":
        sys.exit("%s did not start: %r" % (" ".join(cmd), line))
    return p


def run(p, n):
    p.stdin.write("run %d\n" % n)
    p.stdin.flush()
    words = p.stdout.readline().split()
    if words[:1] != ["result"]:
        sys.exit("unexpected output: %r" % words)
    return float(words[1]), float(words[2]), float(words[3])


def spread(xs):
    return "%s (%s-%s)" % tuple(("%.2f" % v) for v in (statistics.median(xs), min(xs), max(xs)))


def main():
    subprocess.run(["make", "-s", "recur/core.so", "recur/distributed_core.so"], cwd=ROOT, check=True)
    print("CPU: %s, %s cores" % (shell("lscpu | sed -n 's/^Model name: *//p'"), shell("nproc")))
    print("OpenBLAS core: %s; recur sides OPENBLAS_NUM_THREADS as named; OPENBLAS_CORETYPE=%s" % (
        shell("lua5.4 -e 'package.path=\"lua/?.lua;lua/?/init.lua;\"..package.path "
              "print(require(\"recur\").config().blas_corename)'"), os.environ.get("OPENBLAS_CORETYPE", "unset")))
    print("torch %s (%s); torch sides: OMP_NUM_THREADS as named, torch.set_num_threads, %s" % (
        shell("/usr/bin/python3 -c 'import torch; print(torch.__version__)'"),
        shell("/usr/bin/python3 -c 'import torch; print(torch.__config__.show())' | grep -o 'BLAS_INFO=[a-z]*'"),
        " ".join("%s=%s" % kv for kv in TORCH_ENV.items())))
    print("%s; %s" % (shell("mpirun --version | head -n 1"), " ".join(MPIRUN)))
    print("load average before: %s" % shell("cut -d' ' -f1-3 /proc/loadavg"))
    procs = {name: start(cmd, env) for name, cmd, env in SIDES}
    results = {name: [] for name, _, _ in SIDES}
    try:
        for r in range(ROUNDS):
            order = SIDES if r % 2 == 0 else SIDES[::-1]
            for name, _, _ in order:
                results[name].append(run(procs[name], STEPS))
    finally:
        for p in procs.values():
            p.stdin.write("quit\n")
            p.stdin.flush()
        for p in procs.values():
            p.wait()
    print("load average after: %s" % shell("cut -d' ' -f1-3 /proc/loadavg"))
    print("%d rounds of %d steps per side, %d characters per step\n" % (ROUNDS, STEPS, CHARS_PER_STEP))
    rate = {name: [STEPS * CHARS_PER_STEP / s for s, _, _ in runs] for name, runs in results.items()}
    print("%-42s %s" % ("side", "k chars/s: median (min-max)"))
    for name, _, _ in SIDES:
        print("%-42s %s" % (name, spread([v / 1e3 for v in rate[name]])))
    best_torch = max(TORCH_2CORE, key=lambda name: statistics.median(rate[name]))
    print("\nratios per round, median (min-max):")
    for label, other, target in [(RECUR_1, RECUR_1, 1.8), ("torch's best 2-core side: " + best_torch, best_torch, 1.5)]:
        ratios = [a / b for a, b in zip(rate[RECUR_MPI], rate[other])]
        print("  recur 2 ranks / %s: %s   (target >= %.1f)" % (label, spread(ratios), target))
    ms = [s / STEPS * 1e3 for s, _, _ in results[RECUR_MPI]]
    exchange = [e / STEPS * 1e3 for _, e, _ in results[RECUR_MPI]]
    waiting = [w / STEPS * 1e3 for _, _, w in results[RECUR_MPI]]
    share = [e / m * 100 for e, m in zip(exchange, ms)]
    print("\nrecur 2 ranks: %s ms per step; allreduce_gradients %s ms per step (the exchange: the ranks "
          "start it together after a barrier; the most over the ranks); waiting in that barrier for the "
          "slower rank %s ms per step" % (spread(ms), spread(exchange), spread(waiting)))
    print("  allreduce share of a step: %s %%   (target < 5 %%)" % spread(share))


if __name__ == "__main__":
    main()
