"""PyTorch's side of the benchmark: a long-lived worker that bench/run.lua drives over
stdin/stdout with the protocol of bench/recur_worker.lua (info, setup CASE, run REPS, quit).

    /usr/bin/python3 bench/torch_worker.py THREADS|default

THREADS sets torch.set_num_threads (the driver also sets OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS); "default" leaves PyTorch's own choice. Cases:
  layer   nn.RNN/GRU/LSTM(H, H): forward under no_grad; fb = forward + backward with the input
          requiring grad, so that autograd computes dX as recur does
  step    `steps` calls of nn.RNNCell/GRUCell/LSTMCell at batch 1 under no_grad
  charrnn one training iteration of bench/torch_charrnn.py
"""
import ctypes
import os
import re
import resource
import sys
import time

import torch

import torch_charrnn


def blas_libraries():
    """Paths of the BLAS/LAPACK shared libraries mapped into this process."""
    with open("/proc/self/maps") as maps:
        paths = set(re.findall(r"(/\S*(?:blas|lapack|mkl)\S*\.so[\d.]*)", maps.read()))
    return sorted(paths)


def openblas_info():
    """(corename, threads) of the OpenBLAS PyTorch calls, or (None, None) when it is not OpenBLAS."""
    for path in blas_libraries():
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode(), lib.openblas_get_num_threads()
        except (OSError, AttributeError):
            continue
    return None, None


def info():
    corename, blas_threads = openblas_info()
    blas_info = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    fields = {
        "version": torch.__version__,
        "corename": corename or "not OpenBLAS",
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "openblas_threads": blas_threads if blas_threads is not None else "-",
        "blas_info": blas_info.group(1) if blas_info else "?",
        "blas_libraries": " ".join(blas_libraries()) or "none mapped",
        "GLIBC_TUNABLES": os.environ.get("GLIBC_TUNABLES", "unset"),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset"),
    }
    return "\t".join("%s=%s" % kv for kv in fields.items())


def build_layer(c):
    module = getattr(torch.nn, c["cell"])(c["H"], c["H"], bidirectional=c["bidir"] == 1)
    x = torch.randn(c["T"], c["B"], c["H"])
    if c["mode"] == "forward":
        def forward():
            with torch.no_grad():
                module(x)
        return forward
    x.requires_grad_(True)
    gy = torch.randn(c["T"], c["B"], (2 if c["bidir"] == 1 else 1) * c["H"])

    def forward_backward():
        module(x)[0].backward(gy)
    return forward_backward


def build_step(c):
    cell = getattr(torch.nn, c["cell"] + "Cell")(c["H"], c["H"])
    x = torch.randn(1, c["H"])
    zero = torch.zeros(1, c["H"])
    state = [(zero, zero) if c["cell"] == "LSTM" else zero]

    def steps():
        with torch.no_grad():
            s = state[0]
            for _ in range(c["steps"]):
                s = cell(x, s)
            state[0] = s
    return steps


def build_charrnn(c):
    return torch_charrnn.trainer(T=c["T"], B=c["B"], H=c["H"], V=c["V"], E=c["E"], L=c["L"], cell=c["cell"])


BUILD = {"layer": build_layer, "step": build_step, "charrnn": build_charrnn}


def decode(words):
    case = {}
    for word in words.split():
        key, value = word.split("=", 1)
        case[key] = int(value) if value.lstrip("-").isdigit() else value
    return case


def time_units(unit, reps):
    """"WALL CPU FAULTS": the seconds reps units took, by the wall clock and in the process's CPU
    time, and the minor page faults they took."""
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps):
        unit()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return "%.9f %.9f %d" % (wall, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)


def main():
    threads = sys.argv[1] if len(sys.argv) > 1 else "default"
    if threads != "default":
        torch.set_num_threads(int(threads))
    unit = None
    for line in sys.stdin:
        command, _, rest = line.strip().partition(" ")
        try:
            if command == "quit":
                break
            elif command == "info":
                answer = info()
            elif command == "setup":
                unit = None
                c = decode(rest)
                unit = BUILD[c["kind"]](c)
                unit()
                answer = time_units(unit, 1)
            elif command == "run":
                if unit is None:
                    raise ValueError("run: no case set up")
                answer = time_units(unit, int(rest))
            else:
                raise ValueError("unknown command %r" % command)
            print("ok " + answer, flush=True)
        except Exception as e:  # the driver reports it and stops
            print("error %s: %s" % (type(e).__name__, str(e).replace("\n", " ")), flush=True)


if __name__ == "__main__":
    main()
