rockspec_format = "3.0"
package = "recur"
version = "scm-1"

source = {
  url = "git+https://example.invalid/recur.git",
}

description = {
  summary = "Recurrent neural networks (RNN, GRU, LSTM) for Lua 5.1 to 5.4 and LuaJIT, in C over OpenBLAS",
  detailed = [[
    RNN (tanh/relu), GRU and LSTM layers with forward and backward passes that match
    PyTorch's nn.RNN/nn.GRU/nn.LSTM, a float32 tensor type, and training utilities.
  ]],
  license = "MIT",
  labels = { "neural-networks", "rnn", "lstm", "gru", "machine-learning" },
}

dependencies = {
  "lua >= 5.1, < 5.5", -- LuaJIT 2.1 counts as 5.1
}

-- Built by the Makefile (GNU make and a C99 compiler). LuaRocks passes its compiler flags
-- and the Lua headers; the environment chooses the rest:
--   BLAS=none luarocks install recur        the BLAS-free build (recur's own C GEMM)
--   OPENBLAS_INCDIR=... OPENBLAS_LIBDIR=... where OpenBLAS is not on the compiler's paths
--   luarocks --lua-version=5.1 install recur LUA_INCDIR=/usr/include/luajit-2.1   for LuaJIT
build = {
  type = "make",
  variables = { -- for both passes, so that the install pass finds the build up to date
    CFLAGS = "$(CFLAGS)",
    LIBFLAG = "$(LIBFLAG)",
    LUA_INCDIR = "$(LUA_INCDIR)",
  },
  install_target = "rock-install",
  install_variables = {
    INST_LIBDIR = "$(LIBDIR)",
    INST_LUADIR = "$(LUADIR)",
  },
}

-- `luarocks test`: the spec suite with the busted on PATH (Debian's lua-busted works offline),
-- under the Lua that LuaRocks runs (tools/luarocks-test.lua)
test = {
  type = "command",
  script = "tools/luarocks-test.lua",
}
