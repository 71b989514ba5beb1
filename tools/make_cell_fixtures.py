"""Writes reference cases for recur's layer-normalised, peephole and variational-dropout
cells, computed by a plain PyTorch implementation (torch ops and autograd, in float64;
no nn.LSTM) of the equations in doc/adding-a-cell.md.

Run with Debian's torch:  /usr/bin/python3 tools/make_cell_fixtures.py
Each case becomes specs/fixtures/cells/<name>.lua (the format of tools/make_layer_fixtures.py,
plus the parameter names in state_dict order and the seeds of the dropout masks).

Dropout masks are recur's: this script reproduces recur's PCG32 generator and its order of
draws, so that a recur layer whose generator is seeded with `mask_seed` (and whose default
generator is seeded with `dropout_seed`) draws exactly the masks used here:
  at the start of a training forward, from the layer's generator, for each layer and
  direction: the input mask (B x input) when input_dropout > 0, then the recurrent mask
  (B x Hout) when recurrent_dropout > 0; after each layer but the last, from the default
  generator, the (T x B x D*Hout) mask of `dropout`. Each mask value is 0 when the uniform
  draw is below p, else 1/(1-p) (float32).
"""
import os

import numpy as np
import torch
import torch.nn.functional as Fn

from make_layer_fixtures import lua_tensor, lua_value

OUT = os.path.join(os.path.dirname(__file__), "..", "specs", "fixtures", "cells")
DT = torch.float64
MASK64 = (1 << 64) - 1


class PCG32:
    """recur's generator (src/core/rng.c): PCG32 seeded through splitmix64."""

    def __init__(self, seed):
        x = seed & MASK64
        x, a = self._splitmix(x)
        self.state, self.inc = 0, ((a << 1) | 1) & MASK64
        self.u32()
        x, b = self._splitmix(x)
        self.state = (self.state + b) & MASK64
        self.u32()

    @staticmethod
    def _splitmix(x):
        x = (x + 0x9E3779B97F4A7C15) & MASK64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return x, z ^ (z >> 31)

    def u32(self):
        old = self.state
        self.state = (old * 6364136223846793005 + self.inc) & MASK64
        xorshifted = (((old >> 18) ^ old) >> 27) & 0xFFFFFFFF
        rot = old >> 59
        return ((xorshifted >> rot) | (xorshifted << ((32 - rot) & 31))) & 0xFFFFFFFF

    def uniform_f(self):
        return np.float32((self.u32() >> 8) * (1.0 / 16777216.0))

    def dropout_mask(self, shape, p):
        p32 = np.float32(p)
        keep = np.float32(1.0) / (np.float32(1.0) - p32)
        n = int(np.prod(shape))
        values = [np.float32(0.0) if self.uniform_f() < p32 else keep for _ in range(n)]
        return torch.tensor(np.array(values, dtype=np.float32).reshape(shape), dtype=DT)


# ---- the cells, one time step (x and h_in already masked) ---------------------------

def block_norm(v, G, gain, bias):
    """layer norm of each of the G gate blocks of v (B, G*H) on its own, then gain and bias"""
    B, GH = v.shape
    normed = Fn.layer_norm(v.reshape(B, G, GH // G), (GH // G,), eps=1e-5).reshape(B, GH)
    out = normed * gain
    return out + bias if bias is not None else out


def projections(P, opts, G, x, h_in):
    """the input and recurrent pre-activations (x part, h part) of one step"""
    xi, hh = x @ P["weight_ih"].T, h_in @ P["weight_hh"].T
    if opts.get("layer_norm"):
        return (block_norm(xi, G, P["ln_ih_weight"], P.get("ln_ih_bias")),
                block_norm(hh, G, P["ln_hh_weight"], P.get("ln_hh_bias")))
    if "bias_ih" in P:
        xi, hh = xi + P["bias_ih"], hh + P["bias_hh"]
    return xi, hh


def rnn_step(P, opts, x, h_in, h_prev, c_prev):
    xi, hh = projections(P, opts, 1, x, h_in)
    act = torch.relu if opts.get("nonlinearity") == "relu" else torch.tanh
    h = act(xi + hh)
    return h, h, None


def gru_step(P, opts, x, h_in, h_prev, c_prev):
    xi, hh = projections(P, opts, 3, x, h_in)
    xr, xz, xn = xi.chunk(3, 1)
    hr, hz, hn = hh.chunk(3, 1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    h = (1 - z) * n + z * h_prev  # the carried state is not masked
    return h, h, None


def lstm_step(P, opts, x, h_in, h_prev, c_prev):
    xi, hh = projections(P, opts, 4, x, h_in)
    pi, pf, pg, po = (xi + hh).chunk(4, 1)
    if opts.get("peephole"):
        wi, wf, wo = P["weight_peephole"].chunk(3)
        pi, pf = pi + wi * c_prev, pf + wf * c_prev
    i, f, g = torch.sigmoid(pi), torch.sigmoid(pf), torch.tanh(pg)
    c = f * c_prev + i * g
    if opts.get("peephole"):
        po = po + wo * c
    o = torch.sigmoid(po)
    if opts.get("layer_norm"):
        cn = Fn.layer_norm(c, (c.shape[1],), eps=1e-5) * P["ln_cell_weight"]
        if "ln_cell_bias" in P:
            cn = cn + P["ln_cell_bias"]
    else:
        cn = c
    m = o * torch.tanh(cn)
    h = m @ P["weight_hr"].T if "weight_hr" in P else m
    return h, m, c


STEPS = {"RNN": rnn_step, "GRU": gru_step, "LSTM": lstm_step}
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


# ---- parameters in recur's state_dict order ------------------------------------------

def block_specs(cell, opts, in_size):
    """(name, shape, init) of one layer-direction's tensors, recur's order"""
    H, G = opts["hidden_size"], GATES[cell]
    hout = opts.get("proj_size", 0) or H
    bias = opts.get("bias", True)
    w = (-0.8, 0.8)
    out = [("weight_ih", (G * H, in_size), w), ("weight_hh", (G * H, hout), w)]
    if opts.get("layer_norm"):
        for part in ("ih", "hh"):
            out.append(("ln_%s_weight" % part, (G * H,), (0.5, 1.5)))
            if bias:
                out.append(("ln_%s_bias" % part, (G * H,), (-0.5, 0.5)))
        if cell == "LSTM":
            out.append(("ln_cell_weight", (H,), (0.5, 1.5)))
            if bias:
                out.append(("ln_cell_bias", (H,), (-0.5, 0.5)))
    elif bias:
        out += [("bias_ih", (G * H,), w), ("bias_hh", (G * H,), w)]
    if opts.get("peephole"):
        out.append(("weight_peephole", (3 * H,), w))
    if opts.get("proj_size", 0):
        out.append(("weight_hr", (opts["proj_size"], H), w))
    return out


def make_params(cell, opts):
    L, D = opts.get("num_layers", 1), 2 if opts.get("bidirectional") else 1
    hout = opts.get("proj_size", 0) or opts["hidden_size"]
    names, tensors = [], {}
    for l in range(L):
        in_size = opts["input_size"] if l == 0 else D * hout
        for d in range(D):
            for name, shape, (lo, hi) in block_specs(cell, opts, in_size):
                full = "%s_l%d%s" % (name, l, "_reverse" if d else "")
                values = torch.empty(*shape, dtype=torch.float32).uniform_(lo, hi)
                names.append(full)
                tensors[full] = values.to(DT).requires_grad_(True)
    return names, tensors


# ---- the stack -----------------------------------------------------------------------

def run(cell, opts, names, params, x, h0, c0, lengths, training, mask_seed, dropout_seed):
    """x (T, B, I) time-major; h0 (L*D, B, Hout); c0 (L*D, B, H) or None"""
    T, B = x.shape[0], x.shape[1]
    L, D = opts.get("num_layers", 1), 2 if opts.get("bidirectional") else 1
    H = opts["hidden_size"]
    hout = opts.get("proj_size", 0) or H
    p_in, p_rec, p_drop = opts.get("input_dropout", 0), opts.get("recurrent_dropout", 0), opts.get("dropout", 0)
    masks = {}
    if training:
        gen = PCG32(mask_seed)
        for l in range(L):
            in_size = opts["input_size"] if l == 0 else D * hout
            for d in range(D):
                if p_in > 0:
                    masks[(l, d, "x")] = gen.dropout_mask((B, in_size), p_in)
                if p_rec > 0:
                    masks[(l, d, "h")] = gen.dropout_mask((B, hout), p_rec)
        default_gen = PCG32(dropout_seed)
    active = [torch.tensor([[1.0] if lengths is None or lengths[b] > t else [0.0] for b in range(B)], dtype=DT)
              for t in range(T)]
    step = STEPS[cell]
    layer_in, hn, cn = x, [], []
    for l in range(L):
        outs = []
        for d in range(D):
            sfx = "_l%d%s" % (l, "_reverse" if d else "")
            in_size = opts["input_size"] if l == 0 else D * hout
            P = {name: params[name + sfx] for name, _, _ in block_specs(cell, opts, in_size)}
            k = l * D + d
            h = h0[k] if h0 is not None else torch.zeros(B, hout, dtype=DT)
            c = c0[k] if c0 is not None else torch.zeros(B, H, dtype=DT)
            xin = layer_in * masks[(l, d, "x")] if (l, d, "x") in masks else layer_in
            ys = [None] * T
            for t in (reversed(range(T)) if d else range(T)):
                h_in = h * masks[(l, d, "h")] if (l, d, "h") in masks else h
                h_new, _, c_new = step(P, opts, xin[t], h_in, h, c)
                a = active[t]
                h = a * h_new + (1 - a) * h
                if c_new is not None:
                    c = a * c_new + (1 - a) * c
                ys[t] = a * h
            outs.append(torch.stack(ys))
            hn.append(h)
            cn.append(c)
        layer_in = torch.cat(outs, 2)
        if l + 1 < L and training and p_drop > 0:
            layer_in = layer_in * default_gen.dropout_mask(tuple(layer_in.shape), p_drop)
    return layer_in, torch.stack(hn), torch.stack(cn)


# ---- cases ---------------------------------------------------------------------------

# name, cell, options, T, B (None = unbatched), with initial states, lengths, training
CASES = [
    ("gru_ln_2layer_bidir", "GRU", dict(input_size=5, hidden_size=4, num_layers=2, bidirectional=True,
                                        layer_norm=True), 4, 3, True, None, False),
    ("gru_ln_nobias_batch_first", "GRU", dict(input_size=5, hidden_size=4, bias=False, batch_first=True,
                                              layer_norm=True), 4, 3, False, None, False),
    ("gru_ln_unbatched", "GRU", dict(input_size=3, hidden_size=5, layer_norm=True), 5, None, True, None, False),
    ("lstm_ln_2layer_bidir", "LSTM", dict(input_size=5, hidden_size=4, num_layers=2, bidirectional=True,
                                          layer_norm=True), 4, 3, True, None, False),
    ("lstm_ln_proj_nobias", "LSTM", dict(input_size=5, hidden_size=4, proj_size=2, bias=False,
                                         layer_norm=True), 4, 3, True, None, False),
    ("lstm_peephole_2layer_bidir", "LSTM", dict(input_size=5, hidden_size=4, num_layers=2, bidirectional=True,
                                                peephole=True), 4, 3, True, None, False),
    ("lstm_peephole_proj_batch_first", "LSTM", dict(input_size=5, hidden_size=4, proj_size=3, batch_first=True,
                                                    peephole=True), 4, 3, True, None, False),
    ("lstm_ln_peephole_3layer", "LSTM", dict(input_size=5, hidden_size=4, num_layers=3, layer_norm=True,
                                             peephole=True), 4, 3, True, None, False),
    ("packed_gru_ln_bidir", "GRU", dict(input_size=5, hidden_size=4, bidirectional=True, layer_norm=True),
     5, 3, True, [2, 5, 3], False),
    ("packed_lstm_ln_peephole_proj_bidir", "LSTM", dict(input_size=5, hidden_size=4, proj_size=2,
                                                        bidirectional=True, layer_norm=True, peephole=True),
     5, 3, True, [5, 1, 3], False),
    # variational dropout, in training mode
    ("vdrop_rnn_tanh_2layer_bidir", "RNN", dict(input_size=5, hidden_size=4, num_layers=2, bidirectional=True,
                                                input_dropout=0.3, recurrent_dropout=0.4, dropout=0.2),
     4, 3, True, None, True),
    ("vdrop_rnn_relu_recurrent", "RNN", dict(input_size=5, hidden_size=4, nonlinearity="relu",
                                             recurrent_dropout=0.5), 4, 3, True, None, True),
    ("vdrop_gru_2layer_batch_first", "GRU", dict(input_size=5, hidden_size=4, num_layers=2, batch_first=True,
                                                 input_dropout=0.25, recurrent_dropout=0.35), 4, 3, True, None, True),
    ("vdrop_lstm_proj_bidir", "LSTM", dict(input_size=5, hidden_size=4, proj_size=2, bidirectional=True,
                                           input_dropout=0.3, recurrent_dropout=0.3), 4, 3, True, None, True),
    ("vdrop_lstm_ln_peephole_2layer", "LSTM", dict(input_size=5, hidden_size=4, num_layers=2, layer_norm=True,
                                                   peephole=True, input_dropout=0.2, recurrent_dropout=0.3,
                                                   dropout=0.25), 4, 3, True, None, True),
    ("vdrop_packed_gru_ln_bidir", "GRU", dict(input_size=5, hidden_size=4, bidirectional=True, layer_norm=True,
                                              input_dropout=0.3, recurrent_dropout=0.3), 5, 3, True, [3, 5, 1], True),
]


def make_case(name, cell, opts, T, B, with_states, lengths, training, seed):
    torch.manual_seed(seed)
    names, params = make_params(cell, opts)
    L, D = opts.get("num_layers", 1), 2 if opts.get("bidirectional") else 1
    H = opts["hidden_size"]
    hout = opts.get("proj_size", 0) or H
    Bn = B or 1
    x_user_shape = (T, opts["input_size"]) if B is None else (
        (B, T, opts["input_size"]) if opts.get("batch_first") else (T, B, opts["input_size"]))
    x = torch.randn(*x_user_shape).to(DT).requires_grad_(True)
    tensors = {"x": x}
    if with_states:
        hs, cs = ((L * D, hout), (L * D, H)) if B is None else ((L * D, B, hout), (L * D, B, H))
        tensors["h0"] = torch.randn(*hs).to(DT).requires_grad_(True)
        if cell == "LSTM":
            tensors["c0"] = torch.randn(*cs).to(DT).requires_grad_(True)

    def time_major(v, state=False):
        if B is None:
            return v.unsqueeze(1)
        return v.transpose(0, 1) if opts.get("batch_first") and not state else v

    h0 = time_major(tensors["h0"], True) if "h0" in tensors else None
    c0 = time_major(tensors["c0"], True) if "c0" in tensors else None
    mask_seed, dropout_seed = seed + 7, seed + 11
    y, hn, cn = run(cell, opts, names, params, time_major(x), h0, c0, lengths, training, mask_seed, dropout_seed)
    if B is None:
        y, hn, cn = y.squeeze(1), hn.squeeze(1), cn.squeeze(1)
    elif opts.get("batch_first"):
        y = y.transpose(0, 1)
    outputs = {"y": y, "hn": hn}
    if cell == "LSTM":
        outputs["cn"] = cn
    upstream = {"g" + k: torch.randn(*v.shape).to(DT) for k, v in outputs.items()}
    torch.autograd.backward(list(outputs.values()), [upstream["g" + k] for k in outputs])
    tensors.update(outputs)
    tensors.update(upstream)
    for k in ("x", "h0", "c0"):
        if k in tensors:
            tensors["d" + k] = tensors[k].grad
    if lengths:
        tensors["lengths"] = torch.tensor(lengths, dtype=torch.float32)
    for n in names:
        tensors[n] = params[n]
        tensors["grad." + n] = params[n].grad
    lines = ["-- generated by tools/make_cell_fixtures.py with torch %s; do not edit" % torch.__version__,
             "return {",
             '  cell = "%s",' % cell,
             "  T = %d, B = %s," % (T, "nil" if B is None else Bn),
             "  training = %s, mask_seed = %d, dropout_seed = %d," % (lua_value(training), mask_seed, dropout_seed),
             "  options = {%s}," % ", ".join("%s = %s" % (k, lua_value(v)) for k, v in sorted(opts.items())),
             "  names = %s," % lua_value(names),
             "  tensors = {"]
    for k in sorted(tensors):
        lines.append('    ["%s"] = %s,' % (k, lua_tensor(tensors[k])))
    lines += ["  },", "}", ""]
    with open(os.path.join(OUT, name + ".lua"), "w") as f:
        f.write("\n".join(lines))


def main():
    os.makedirs(OUT, exist_ok=True)
    for i, case in enumerate(CASES):
        make_case(*case, seed=3000 + i)
    with open(os.path.join(OUT, "index.lua"), "w") as f:
        f.write("-- generated by tools/make_cell_fixtures.py\nreturn {\n%s}\n" % "".join('  "%s",\n' % c[0] for c in CASES))


if __name__ == "__main__":
    main()
