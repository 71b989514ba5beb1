rockspec_format = "3.0"
package = "recur"
version = "scm-1"

source = {
  url = "git+https://example.invalid/recur.git",
}

description = {
  summary = "Recurrent neural networks (RNN, GRU, LSTM) for Lua 5.4, in C over OpenBLAS",
  detailed = [[
    RNN (tanh/relu), GRU and LSTM layers with forward and backward passes that match
    PyTorch's nn.RNN/nn.GRU/nn.LSTM, a float32 tensor type, and training utilities.
  ]],
  license = "MIT",
  labels = { "neural-networks", "rnn", "lstm", "gru", "machine-learning" },
}

dependencies = {
  "lua >= 5.4, < 5.5",
}

-- On Debian, cblas.h is under /usr/include/<triplet>, which the compiler finds by
-- itself; elsewhere set OPENBLAS_DIR (or OPENBLAS_INCDIR / OPENBLAS_LIBDIR).
external_dependencies = {
  OPENBLAS = { library = "openblas" },
}

build = {
  type = "builtin",
  modules = {
    ["recur.core"] = {
      sources = {
        "src/core/blas.c",
        "src/core/cells.c",
        "src/core/csv.c",
        "src/core/datetime.c",
        "src/core/ops.c",
        "src/core/rng.c",
        "src/core/rnn.c",
        "src/core/safetensors.c",
        "src/core/utf8.c",
        "src/lua/args.c",
        "src/lua/core.c",
        "src/lua/data.c",
        "src/lua/functional.c",
        "src/lua/generator.c",
        "src/lua/ids.c",
        "src/lua/layer.c",
        "src/lua/safetensors.c",
        "src/lua/tensor.c",
        "src/lua/tensor_arith.c",
      },
      libraries = { "openblas", "m" },
      incdirs = { "$(OPENBLAS_INCDIR)" },
      libdirs = { "$(OPENBLAS_LIBDIR)" },
    },
    ["recur"] = "lua/recur/init.lua",
    ["recur.util"] = "lua/recur/util.lua",
    ["recur.nn"] = "lua/recur/nn.lua",
    ["recur.loss"] = "lua/recur/loss.lua",
    ["recur.optim"] = "lua/recur/optim.lua",
    ["recur.data"] = "lua/recur/data.lua",
    ["recur.plot"] = "lua/recur/plot.lua",
    ["recur.train"] = "lua/recur/train.lua",
    ["recur.json"] = "lua/recur/json.lua",
    ["recur.checkpoint"] = "lua/recur/checkpoint.lua",
  },
}

test_dependencies = {
  "busted",
}

test = {
  type = "busted",
}
