"""safetensors files <-> PyTorch state_dicts without the `safetensors` package
(struct + json only), for moving models between recur and PyTorch.

    /usr/bin/python3 tools/safetensors_torch.py export OUT.safetensors   # trains the interop fixture
    /usr/bin/python3 tools/safetensors_torch.py check MODEL IO           # a recur model in torch

In code: save_state_dict(tensors, path, metadata) and load_state_dict(path).
"""
import json
import os
import struct
import sys

import torch

DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2)}


def save_state_dict(tensors, path, metadata=None):
    """Writes name -> tensor as F32 safetensors (atomically: temp file, fsync, rename)."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (len(text) + 8) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_state_dict(path):
    """Reads F32/F16/BF16 safetensors: returns (name -> float32 tensor, metadata)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        dtype, size = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        out[name] = t.to(torch.float32).reshape(info["shape"])
    return out, metadata


class Net(torch.nn.Module):
    """The interop model: an LSTM and a linear decoder, as recur.Sequential{{"rnn", ...}, {"decoder", ...}}."""

    def __init__(self, input_size=3, hidden_size=8, num_layers=2, out_features=2):
        super().__init__()
        self.rnn = torch.nn.LSTM(input_size, hidden_size, num_layers=num_layers)
        self.decoder = torch.nn.Linear(hidden_size, out_features)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.decoder(y)


def recur_config(input_size=3, hidden_size=8, num_layers=2, out_features=2):
    """recur's rebuild metadata for Net, so that recur.load_model works on the file."""
    lstm = {"type": "LSTM", "input_size": input_size, "hidden_size": hidden_size, "num_layers": num_layers,
            "bias": True, "batch_first": False, "dropout": 0, "bidirectional": False, "proj_size": 0}
    lin = {"type": "Linear", "in_features": hidden_size, "out_features": out_features, "bias": True}
    return {"type": "Sequential", "children": [{"name": "rnn", "config": lstm}, {"name": "decoder", "config": lin}]}


def export(path):
    """Trains Net for a few steps on a toy task, saves it with an input and its outputs."""
    torch.manual_seed(7)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(50):
        x = torch.randn(6, 4, 3)
        target = torch.stack([x.sum(-1), x.cumsum(0)[..., 0]], -1)
        loss = torch.nn.functional.mse_loss(net(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        y = net(x)
    save_state_dict(dict(net.state_dict()), path,
                    {"recur.model": json.dumps(recur_config(), separators=(",", ":")), "trained_by": "torch " + torch.__version__})
    save_state_dict({"x": x, "y": y}, path.replace(".safetensors", "_io.safetensors"))


def check(model_path, io_path, out_path=None):
    """Loads a recur-saved Net into torch and compares its outputs with recur's."""
    tensors, _ = load_state_dict(model_path)
    net = Net()
    net.load_state_dict(tensors, strict=True)
    io, _ = load_state_dict(io_path)
    with torch.no_grad():
        y = net(io["x"])
    err = (y - io["y"]).abs().max().item() / max(1.0, io["y"].abs().max().item())
    print("torch vs recur outputs: relative error %.3g" % err)
    if out_path:
        save_state_dict({"y": y}, out_path)
    return err


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "export":
        export(sys.argv[2])
    elif len(sys.argv) in (4, 5) and sys.argv[1] == "check":
        sys.exit(0 if check(*sys.argv[2:]) < 1e-5 else 1)
    else:
        sys.exit(__doc__)
