-- What the benchmark measures: the tables, their sides (worker processes) and cases. Shared by
-- the driver (bench/run.lua), the recur worker (bench/recur_worker.lua) and the target checker
-- (bench/targets.lua). A case travels to the workers as one line of key=value words, e.g.
-- "kind=layer cell=LSTM T=50 B=64 H=256 mode=fb bidir=0"; bench/torch_worker.py reads the same.
local cases = {}

-- order of the keys on the wire (and in ids)
local KEYS = {"kind", "cell", "T", "B", "H", "mode", "bidir", "steps", "V", "E", "L"}

--- The wire form of a case.
function cases.encode(c)
  local words = {}
  for _, k in ipairs(KEYS) do
    if c[k] ~= nil then words[#words + 1] = k .. "=" .. tostring(c[k]) end
  end
  return table.concat(words, " ")
end

--- A case from its wire form (numbers become numbers).
function cases.decode(line)
  local c = {}
  for k, v in line:gmatch("(%w+)=(%S+)") do c[k] = tonumber(v) or v end
  return c
end

--- A short unique name, e.g. "LSTM B=64 H=256 fb" (T is 50 throughout the grid but kept).
function cases.id(c)
  if c.kind == "layer" then
    return string.format("%s%s T=%d B=%d H=%d %s", c.bidir == 1 and "bi" or "", c.cell, c.T, c.B, c.H, c.mode)
  elseif c.kind == "step" then
    return string.format("%s step B=1 H=%d", c.cell, c.H)
  elseif c.kind == "charrnn" then
    return string.format("char-rnn %dx%d %s E=%d B=%d T=%d", c.L, c.H, c.cell, c.E, c.B, c.T)
  end
  error("cases.id: unknown kind " .. tostring(c.kind))
end

local function layer_grid(cells, Bs, Hs, modes)
  local out = {}
  for _, cell in ipairs(cells) do
    for _, B in ipairs(Bs) do
      for _, H in ipairs(Hs) do
        for _, mode in ipairs(modes) do
          out[#out + 1] = {kind = "layer", cell = cell, T = 50, B = B, H = H, mode = mode, bidir = 0}
        end
      end
    end
  end
  return out
end

-- the char-rnn of examples/charrnn with dropout 0: 2x128 LSTM, embedding 64, 65 characters
local CHARRNN = {kind = "charrnn", cell = "LSTM", T = 50, B = 50, H = 128, V = 65, E = 64, L = 2}
cases.charrnn = CHARRNN

-- How a table shows its sides' times. A table's ratio {key, label, num, den, percent} is
-- num/den of the per-round times: the speed-up of side den over side num; `percent` shows x100.
cases.units = {
  ms = {label = "ms", scale = 1e3, fmt = "%.3f"},
  us = {label = "us/step", per_step = true, scale = 1e6, fmt = "%.2f"},
  chars = {label = "chars/s", rate = true, fmt = "%.0f"},
}

--- The tables of a run (quick: the short version). Each: name, title, threads (a number or
-- "default"), sides (worker names, see bench/run.lua), ratios, unit, cases.
function cases.tables(quick)
  local speedup = {key = "speedup", label = "speed-up", num = "torch", den = "recur"}
  local bound = {key = "bound", label = "of bound", num = "bound", den = "recur", percent = true}
  return {
    {name = "layers", title = "LSTM and GRU layers, T=50, input_size=H, 1 thread", threads = 1,
      sides = {"recur", "torch", "bound"}, ratios = {speedup, bound}, unit = "ms",
      cases = quick and layer_grid({"LSTM", "GRU"}, {1, 64}, {256}, {"forward", "fb"})
        or layer_grid({"LSTM", "GRU"}, {1, 16, 64}, {256, 512}, {"forward", "fb"})},
    {name = "threads2", title = "Layers at 2 threads (both sides)", threads = 2,
      sides = {"recur", "torch", "bound"}, ratios = {speedup, bound}, unit = "ms",
      cases = quick and layer_grid({"LSTM"}, {64}, {256}, {"fb"}) or layer_grid({"LSTM", "GRU"}, {64}, {256},
        {"forward", "fb"})},
    {name = "bidir", title = "Bidirectional LSTM: recur at 2 threads against recur at 1 thread", threads = 2,
      sides = {"recur1", "recur"}, ratios = {{key = "scaling", label = "2t/1t speed-up", num = "recur1", den = "recur"}}, unit = "ms",
      cases = {{kind = "layer", cell = "LSTM", T = 50, B = 16, H = 256, mode = "fb", bidir = 1}}},
    {name = "step", title = "Single step at batch 1 (recur stepper, torch nn.*Cell under no_grad), 1 thread",
      threads = 1, sides = {"recur", "torch"}, ratios = {speedup}, unit = "us",
      cases = {{kind = "step", cell = "RNN", H = 32, steps = 2000}, {kind = "step", cell = "GRU", H = 32, steps = 2000},
        {kind = "step", cell = "LSTM", H = 32, steps = 2000}}},
    {name = "charrnn", title = "char-rnn training (Adam, clip_grad_norm 5, dropout 0), 1 thread", threads = 1,
      sides = {"recur", "torch"}, ratios = {speedup}, unit = "chars", cases = {CHARRNN}},
    {name = "default", title = "As a user gets by default (no malloc tuning, no thread settings)",
      threads = "default", sides = {"recur", "torch"}, ratios = {speedup}, unit = "ms",
      cases = quick and layer_grid({"LSTM"}, {1, 64}, {256}, {"fb"}) or layer_grid({"LSTM", "GRU"}, {1, 64}, {256},
        {"forward", "fb"})},
  }
end

--- The portable-GEMM comparison (bench/noblas.sh): recur with OpenBLAS against recur built
-- with BLAS=none, 1 thread.
function cases.noblas_table(quick)
  return {name = "noblas", title = "recur with OpenBLAS against recur's portable C GEMM (BLAS=none), 1 thread",
    threads = 1, sides = {"recur", "noblas"}, unit = "ms",
    ratios = {{key = "speedup", label = "OpenBLAS speed-up", num = "noblas", den = "recur"}},
    cases = quick and layer_grid({"RNN", "GRU", "LSTM"}, {1, 16}, {128}, {"forward", "fb"})
      or layer_grid({"RNN", "GRU", "LSTM"}, {1, 16, 64}, {128, 256}, {"forward", "fb"})}
end

--- PyTorch with the glibc malloc tuning against PyTorch without it (why the tuning is on).
function cases.malloc_table()
  return {name = "malloc", title = "PyTorch with the glibc malloc tuning against PyTorch without, 1 thread",
    threads = 1, sides = {"torch", "torch_untuned"}, unit = "ms",
    ratios = {{key = "speedup", label = "tuning speed-up", num = "torch_untuned", den = "torch"}},
    cases = layer_grid({"LSTM"}, {1, 64}, {256}, {"forward", "fb"})}
end

--- Shapes at which the memory of one LSTM layer (input_size = H) is reported.
cases.memory_shapes = {{T = 100, B = 64, H = 512}, {T = 50, B = 16, H = 128}, {T = 100, B = 1, H = 256}}

--- Characters (or steps) one unit of a case processes: converts a time into a rate.
function cases.items(c)
  if c.kind == "charrnn" then return c.B * c.T end
  if c.kind == "step" then return c.steps end
  return 1
end

--- The cases of `list` whose id contains `text` (plain text, not a pattern), in order; all of
--- them when `text` is nil.
function cases.select(list, text)
  local out = {}
  for _, c in ipairs(list) do
    if not text or cases.id(c):find(text, 1, true) then out[#out + 1] = c end
  end
  return out
end

return cases
