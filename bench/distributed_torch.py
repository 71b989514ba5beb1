"""PyTorch's side of bench/distributed.py: the char-rnn training step of bench/distributed.lua
(Embedding 64 -> 2x128 LSTM, dropout 0.25 -> Linear; Adam 2e-3, gradient clipping 5; global
batch 50 x 50 characters of tinyshakespeare, the state carried from batch to batch), as one
process with --threads threads, or as --procs processes with DistributedDataParallel over
gloo (torch.distributed on loopback), each on its share of the batch.

A persistent process: after a warm-up it prints "ready"; each line "run N" on stdin runs N
steps and prints "result <seconds> nan nan" (DDP overlaps its allreduce with backward, so
its time is not separate). "quit" ends it. Set OMP_NUM_THREADS, OMP_WAIT_POLICY=passive and
the glibc malloc tunables as bench/distributed.py does.
  python3 bench/distributed_torch.py --procs 1 --threads 2
  python3 bench/distributed_torch.py --procs 2 --threads 1
"""
import argparse
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


class CharRNN(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, 64)
        self.rnn = nn.LSTM(64, 128, num_layers=2, dropout=0.25)
        self.decoder = nn.Linear(128, vocab)

    def forward(self, x, state):
        out, state = self.rnn(self.embed(x), state)
        return self.decoder(out), state


def streams(path, batch, seq):
    """CharBatches' layout: the text cut into `batch` contiguous streams."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {ch: i for i, ch in enumerate(chars)}
    ids = torch.tensor([index[ch] for ch in text], dtype=torch.long)
    length = (ids.numel() - 1) // batch
    inputs = ids[: batch * length].view(batch, length)
    targets = ids[1 : batch * length + 1].view(batch, length)
    return inputs, targets, length // seq, len(chars)


def trainer(rank, world, threads, args):
    """Returns step(): one training step on this rank's rows of the next batch."""
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    inputs, targets, count, vocab = streams(args.data, args.batch, args.seq)
    share = args.batch // world
    rows = slice(rank * share, (rank + 1) * share)
    model = CharRNN(vocab)
    net = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    criterion = nn.CrossEntropyLoss()
    state = {"position": 0, "hidden": None}

    def step():
        i = state["position"] % count
        state["position"] += 1
        cols = slice(i * args.seq, (i + 1) * args.seq)
        x, y = inputs[rows, cols].t().contiguous(), targets[rows, cols].t().contiguous()
        optimizer.zero_grad()
        logits, hidden = net(x, state["hidden"])
        loss = criterion(logits.view(-1, vocab), y.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5)
        optimizer.step()
        state["hidden"] = tuple(h.detach() for h in hidden)

    return step


def timed(step, n, barrier=None):
    if barrier:
        barrier()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    if barrier:
        barrier()
    return time.perf_counter() - t0


def ddp_worker(rank, world, threads, args, port, conn):
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    step = trainer(rank, world, threads, args)
    for _ in range(3):
        step()
    conn.send("ready")
    while True:
        n = conn.recv()
        if n == 0:
            break
        conn.send(timed(step, n, dist.barrier))
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(run):
    """The stdin/stdout protocol around run(n) -> seconds."""
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] != ["run"]:
            break
        print("result %.6f nan nan" % run(int(words[1])), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--seq", type=int, default=50)
    parser.add_argument("--data", default=os.path.join(ROOT, "examples/data/tinyshakespeare.txt"))
    args = parser.parse_args()
    if args.procs == 1:
        step = trainer(0, 1, args.threads, args)
        for _ in range(3):
            step()
        serve(lambda n: timed(step, n))
        return
    ctx = mp.get_context("spawn")
    port, pipes, procs = free_port(), [], []
    for rank in range(args.procs):
        mine, theirs = ctx.Pipe()
        p = ctx.Process(target=ddp_worker, args=(rank, args.procs, args.threads, args, port, theirs))
        p.start()
        pipes.append(mine)
        procs.append(p)
    for conn in pipes:
        assert conn.recv() == "ready"

    def run(n):
        for conn in pipes:
            conn.send(n)
        return max(conn.recv() for conn in pipes)

    serve(run)
    for conn in pipes:
        conn.send(0)
    for p in procs:
        p.join()


if __name__ == "__main__":
    main()
