"""Writes PyTorch reference cases for recur's RNN/GRU/LSTM specs.

Run with Debian's torch:  /usr/bin/python3 tools/make_layer_fixtures.py
Each case becomes specs/fixtures/layers/<name>.lua, a Lua file returning
{ cell = ..., options = {...}, tensors = { name = {shape = {...}, data = {...}} } }
with the layer's parameters (PyTorch state_dict names), inputs, upstream gradients,
outputs, input gradients and parameter gradients ("grad.<name>").
"""
import os
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "specs", "fixtures", "layers")

CASES = [
    # name, cell, options, T, B (None = unbatched), with initial states
    ("rnn_tanh_1layer", "RNN", dict(input_size=3, hidden_size=4), 5, 2, False),
    ("rnn_relu_2layer_bidir", "RNN", dict(input_size=3, hidden_size=4, num_layers=2,
                                          nonlinearity="relu", bidirectional=True), 4, 3, True),
    ("rnn_nobias_batch1", "RNN", dict(input_size=2, hidden_size=5, bias=False), 6, 1, True),
    ("gru_2layer_batch_first", "GRU", dict(input_size=3, hidden_size=4, num_layers=2,
                                           batch_first=True), 5, 2, True),
    ("gru_3layer_bidir", "GRU", dict(input_size=2, hidden_size=3, num_layers=3,
                                     bidirectional=True), 4, 2, True),
    ("gru_unbatched", "GRU", dict(input_size=3, hidden_size=4, num_layers=2), 5, None, True),
    ("lstm_2layer", "LSTM", dict(input_size=3, hidden_size=4, num_layers=2), 5, 2, True),
    ("lstm_proj_bidir", "LSTM", dict(input_size=3, hidden_size=5, num_layers=2, proj_size=2,
                                     bidirectional=True), 4, 2, True),
    ("lstm_proj_batch_first_nobias", "LSTM", dict(input_size=2, hidden_size=4, proj_size=3,
                                                  batch_first=True, bias=False), 3, 2, False),
    ("lstm_3layer_dropout_eval", "LSTM", dict(input_size=3, hidden_size=3, num_layers=3,
                                              dropout=0.5), 4, 1, True),
    ("lstm_unbatched_bidir", "LSTM", dict(input_size=2, hidden_size=3, bidirectional=True), 4, None, True),
]


# variable-length batches, run through pack_padded_sequence / pad_packed_sequence
PACKED_CASES = [
    ("packed_rnn_tanh", "RNN", dict(input_size=3, hidden_size=4), 5, 3, True, [2, 5, 3]),
    ("packed_gru_2layer_bidir_unsorted", "GRU", dict(input_size=2, hidden_size=3, num_layers=2,
                                                     bidirectional=True), 5, 4, True, [3, 5, 1, 4]),
    ("packed_lstm_2layer_unsorted", "LSTM", dict(input_size=3, hidden_size=4, num_layers=2), 6, 3, True, [1, 6, 3]),
    ("packed_lstm_proj_bidir_batch_first", "LSTM", dict(input_size=2, hidden_size=4, proj_size=2,
                                                        bidirectional=True, batch_first=True), 4, 3, False, [4, 4, 2]),
]


def grid_cases():
    """Every cell x 1-3 layers x bidirectional x batch_first (x proj_size for LSTM), small
    sizes, inter-layer dropout set (the reference runs in evaluation mode)."""
    cells = [("rnn_tanh", "RNN", {}), ("rnn_relu", "RNN", {"nonlinearity": "relu"}),
             ("gru", "GRU", {}), ("lstm", "LSTM", {}), ("lstm_proj", "LSTM", {"proj_size": 2})]
    for tag, cell, extra in cells:
        for layers in (1, 2, 3):
            for bidir in (False, True):
                for bf in (False, True):
                    opts = dict(input_size=2, hidden_size=3, num_layers=layers, bidirectional=bidir,
                                batch_first=bf, **extra)
                    if layers > 1:
                        opts["dropout"] = 0.3
                    name = "grid/%s_l%d%s%s" % (tag, layers, "_bi" if bidir else "", "_bf" if bf else "")
                    yield (name, cell, opts, 3, 2, True)


def lua_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"%s"' % v
    if isinstance(v, (list, tuple)):
        return "{%s}" % ", ".join(lua_value(e) for e in v)
    return repr(v)


def lua_tensor(t):
    t = t.detach().contiguous().float()
    shape = ", ".join(str(s) for s in t.shape)
    data = ", ".join("%.9g" % v for v in t.reshape(-1).tolist())
    return "{shape = {%s}, data = {%s}}" % (shape, data)


def run_packed(module, x, state, lengths, batch_first, T):
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first,
                                                     enforce_sorted=False)
    out, hidden = module(packed, state)
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    return y, hidden


def make_case(name, cell, options, T, B, with_states, seed, lengths=None):
    torch.manual_seed(seed)
    module = getattr(torch.nn, cell)(**options).eval()
    for p in module.parameters():  # wider than the default init, to exercise the gates
        torch.nn.init.uniform_(p, -0.8, 0.8)
    D = 2 if options.get("bidirectional") else 1
    L = options.get("num_layers", 1)
    H = options["hidden_size"]
    hout = options.get("proj_size", 0) or H
    if B is None:
        x_shape, h_shape, c_shape = (T, options["input_size"]), (L * D, hout), (L * D, H)
    else:
        x_shape = (B, T, options["input_size"]) if options.get("batch_first") else (T, B, options["input_size"])
        h_shape, c_shape = (L * D, B, hout), (L * D, B, H)
    x = torch.randn(*x_shape, requires_grad=True)
    tensors = {"x": x}
    if with_states:
        tensors["h0"] = torch.randn(*h_shape, requires_grad=True)
        if cell == "LSTM":
            tensors["c0"] = torch.randn(*c_shape, requires_grad=True)
    run = module
    if lengths:
        tensors["lengths"] = torch.tensor(lengths, dtype=torch.float32)
        run = lambda inp, st: run_packed(module, inp, st, lengths, options.get("batch_first", False), T)
    if cell == "LSTM":
        state = (tensors["h0"], tensors["c0"]) if with_states else None
        y, (hn, cn) = run(x, state)
        outputs = {"y": y, "hn": hn, "cn": cn}
    else:
        y, hn = run(x, tensors.get("h0"))
        outputs = {"y": y, "hn": hn}
    upstream = {"g" + k: torch.randn_like(v) for k, v in outputs.items()}
    torch.autograd.backward(list(outputs.values()), [upstream["g" + k] for k in outputs])
    tensors.update(outputs)
    tensors.update(upstream)
    for k in ("x", "h0", "c0"):
        if k in tensors:
            tensors["d" + k] = tensors[k].grad
    for pname, p in module.named_parameters():
        tensors[pname] = p
        tensors["grad." + pname] = p.grad
    lines = ["-- generated by tools/make_layer_fixtures.py with torch %s; do not edit" % torch.__version__,
             "return {",
             '  cell = "%s",' % cell,
             "  T = %d, B = %s," % (T, "nil" if B is None else B),
             "  options = {%s}," % ", ".join("%s = %s" % (k, lua_value(v)) for k, v in sorted(options.items())),
             "  tensors = {"]
    for k in sorted(tensors):
        lines.append('    ["%s"] = %s,' % (k, lua_tensor(tensors[k])))
    lines += ["  },", "}", ""]
    with open(os.path.join(OUT, name + ".lua"), "w") as f:
        f.write("\n".join(lines))


def main():
    os.makedirs(os.path.join(OUT, "grid"), exist_ok=True)
    names = []
    for i, case in enumerate(CASES + list(grid_cases())):
        make_case(*case, seed=1000 + i)
        names.append(case[0])
    for i, case in enumerate(PACKED_CASES):
        make_case(*case[:6], seed=2000 + i, lengths=case[6])
        names.append(case[0])
    with open(os.path.join(OUT, "index.lua"), "w") as f:
        f.write("-- generated by tools/make_layer_fixtures.py\nreturn {\n%s}\n" % "".join('  "%s",\n' % n for n in names))


if __name__ == "__main__":
    main()
