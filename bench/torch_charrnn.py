"""PyTorch's char-rnn, the same model, optimizer and clipping as recur's side of the benchmark
(bench/recur_worker.lua, build.charrnn) and examples/charrnn/train.lua with dropout 0:
Embedding(V, 64) -> 2-layer LSTM(64, 128) -> Linear(128, V), cross-entropy, clip_grad_norm_(5),
Adam(lr=2e-3), the hidden state carried from batch to batch (truncated BPTT), B=50, T=50.
bench/torch_worker.py imports it; run alone it prints training throughput:

    OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
      GLIBC_TUNABLES=glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824 \\
      /usr/bin/python3 bench/torch_charrnn.py [--threads 1] [--iterations 50]
"""
import argparse
import time

import torch


def token_ids(T, B, V, seed):
    """(T, B) token ids 0..V-1: the same pseudo-random sequence as recur's side (which adds 1)."""
    rows, state = [], seed
    for _ in range(T):
        row = []
        for _ in range(B):
            state = (state * 1103515245 + 12345) % 2147483648
            row.append(state % V)
        rows.append(row)
    return torch.tensor(rows, dtype=torch.long)


class CharRNN(torch.nn.Module):
    def __init__(self, V=65, E=64, H=128, L=2, cell="LSTM"):
        super().__init__()
        self.embed = torch.nn.Embedding(V, E)
        self.rnn = getattr(torch.nn, cell)(E, H, num_layers=L, dropout=0.0)
        self.decoder = torch.nn.Linear(H, V)

    def forward(self, x, state):
        out, state = self.rnn(self.embed(x), state)
        return self.decoder(out), state


def trainer(T=50, B=50, H=128, V=65, E=64, L=2, cell="LSTM"):
    """A function running one training iteration (zero_grad, forward, loss, backward, clip, step)."""
    torch.manual_seed(1)
    model = CharRNN(V, E, H, L, cell)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    criterion = torch.nn.CrossEntropyLoss()
    x, y = token_ids(T, B, V, 1), token_ids(T, B, V, 2)
    carried = [None]

    def iteration():
        optimizer.zero_grad()
        logits, state = model(x, carried[0])
        loss = criterion(logits.reshape(-1, V), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        carried[0] = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()

    return iteration


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    T, B = 50, 50
    step = trainer(T=T, B=B)
    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(args.iterations):
        step()
    seconds = time.perf_counter() - t0
    print("torch %s, %d thread(s): %.0f chars/s" % (torch.__version__, args.threads, args.iterations * T * B / seconds))


if __name__ == "__main__":
    main()
