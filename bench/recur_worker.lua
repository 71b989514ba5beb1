-- recur's side of the benchmark: a long-lived worker that bench/run.lua drives over stdin/stdout
-- (one command per line, one answer per line: "ok ..." or "error ..."). recur is used through
-- its public Lua API only.
--
--   lua5.4 bench/recur_worker.lua THREADS|default
--   info                  -> ok key=value<TAB>key=value...
--   setup CASE            -> ok WALL CPU FAULTS  (builds the case, e.g. "kind=layer cell=LSTM T=50
--                                          B=64 H=256 mode=fb bidir=0", runs two warm-up units, times
--                                          the second)
--   run REPS              -> ok WALL CPU FAULTS  (REPS units, back to back: seconds by the wall
--                                          clock and in CPU time of the whole process, and the
--                                          minor page faults they took, -1 where unknown)
--   trace ID              -> ok           (one unit between "begin ID" / "end ID" lines appended to the
--                                          file $RECUR_BENCH_TRACE, for bench/blas_trace.c)
--   memory T B H          -> ok WORKSPACE_BYTES LIVE_BYTES (one LSTM layer, see `memory` below;
--                                          WORKSPACE_BYTES -1 when layers have no workspace_bytes)
--   quit
--
-- RECUR_CPATH selects another build of recur.core (bench/noblas.sh: the BLAS-free one).
local root = (arg[0]:match("^(.*)bench/") or "./")
package.path = root .. "bench/?.lua;" .. root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("RECUR_CPATH") or (root .. "?.so")) .. ";" .. package.cpath
local recur = require "recur"
local unpack = table.unpack or unpack -- Lua 5.1 and LuaJIT have it as a global
local cases = require "cases"
local stats = require "stats"

local threads = arg[1] or "default"
if threads ~= "default" then recur.set_num_threads(assert(tonumber(threads), "THREADS: a number or default")) end

-- token ids 1..V in a (T, B) tensor, the same pseudo-random sequence as bench/torch_charrnn.py
local function token_ids(T, B, V, seed)
  local rows, state = {}, seed
  for t = 1, T do
    local row = {}
    for b = 1, B do
      state = (state * 1103515245 + 12345) % 2147483648
      row[b] = state % V + 1
    end
    rows[t] = row
  end
  return recur.tensor(rows)
end

local build = {}

-- forward: evaluation mode under recur.no_grad (PyTorch's side runs under no_grad); fb:
-- forward then backward, which accumulates the parameter gradients and returns dX
function build.layer(c)
  local layer = recur[c.cell]{input_size = c.H, hidden_size = c.H, bidirectional = c.bidir == 1}
  local x = recur.randn{c.T, c.B, c.H}
  if c.mode == "forward" then
    layer:evaluate()
    return function() recur.no_grad(layer.forward, layer, x) end
  end
  local gy = recur.randn{c.T, c.B, (c.bidir == 1 and 2 or 1) * c.H}
  return function()
    layer:forward(x)
    layer:backward(gy)
  end
end

-- `steps` single steps of a batch-1 stepper
function build.step(c)
  local stepper = recur[c.cell]{input_size = c.H, hidden_size = c.H}:stepper(1)
  local x = recur.randn{c.H}
  return function()
    for _ = 1, c.steps do stepper:step(x) end
  end
end

-- one training iteration of examples/charrnn's model: embedding -> L-layer LSTM -> linear,
-- cross-entropy, backward, clip_grad_norm 5, Adam; the hidden state carried (truncated BPTT)
function build.charrnn(c)
  recur.manual_seed(1)
  local model = recur.Sequential{
    {"embed", recur.Embedding{num_embeddings = c.V, embedding_dim = c.E}},
    {"rnn", recur[c.cell]{input_size = c.E, hidden_size = c.H, num_layers = c.L, dropout = 0}},
    {"decoder", recur.Linear{in_features = c.H, out_features = c.V}},
  }
  local embed, rnn, decoder = unpack(model.children)
  local optimizer = recur.optim.Adam{model, lr = 2e-3}
  local criterion = recur.CrossEntropyLoss()
  local x, y = token_ids(c.T, c.B, c.V, 1), token_ids(c.T, c.B, c.V, 2)
  local h, cell_state
  return function()
    optimizer:zero_grad()
    local out, hn, cn = rnn:forward(embed:forward(x), h, cell_state)
    criterion:forward(decoder:forward(out), y)
    embed:backward(rnn:backward(decoder:backward(criterion:backward())))
    recur.clip_grad_norm(model, 5)
    optimizer:step()
    h, cell_state = hn, cn
  end
end

-- One LSTM layer's memory at (T, B, H), input_size = H: its workspace_bytes(T, B), and the
-- live bytes (Lua's count, which includes every recur buffer) a forward + backward leaves held by
-- the layer and its results, beyond the input and output gradient it was given.
local function memory(T, B, H)
  local x, gy = recur.randn{T, B, H}, recur.randn{T, B, H}
  collectgarbage("collect")
  local before = collectgarbage("count")
  local layer = recur.LSTM{input_size = H, hidden_size = H}
  local y = layer:forward(x)
  local dx = layer:backward(gy)
  collectgarbage("collect")
  local live = (collectgarbage("count") - before) * 1024
  assert(y and dx)
  return layer.workspace_bytes and layer:workspace_bytes(T, B) or -1, math.floor(live)
end

local unit

-- "WALL CPU FAULTS": the seconds `reps` units took, by the wall clock and in the process's CPU
-- time, and the minor page faults they took (-1 where the system does not say)
local function time_units(reps)
  local f0 = stats.own_minor_faults()
  local t0, c0 = recur.monotonic(), os.clock()
  for _ = 1, reps do unit() end
  local wall, cpu, f1 = recur.monotonic() - t0, os.clock() - c0, stats.own_minor_faults()
  return string.format("%.9f %.9f %d", wall, cpu, f0 and f1 and f1 - f0 or -1)
end

local function append(path, text)
  local f = assert(io.open(path, "a"))
  f:write(text)
  f:close()
end

local commands = {}

function commands.info()
  local cfg = recur.config()
  return table.concat({"version=" .. cfg.version, "blas=" .. cfg.blas, "corename=" .. cfg.blas_corename,
    "threads=" .. recur.get_num_threads(), "blas_threads=" .. tostring(cfg.blas_threads), "blas_config=" .. cfg.blas_config,
    "lua=" .. cfg.lua, "packed=" .. cfg.packed_gemm}, "\t")
end

function commands.setup(rest)
  local c = cases.decode(rest)
  unit = nil
  collectgarbage("collect")
  assert(build[c.kind], "unknown case kind " .. tostring(c.kind))
  unit = build[c.kind](c)
  unit()
  return time_units(1)
end

function commands.run(rest)
  local reps = tonumber(rest)
  assert(unit and reps and reps >= 1, "run: no case set up or bad REPS")
  return time_units(reps)
end

function commands.trace(rest)
  local path = assert(os.getenv("RECUR_BENCH_TRACE"), "trace: RECUR_BENCH_TRACE is not set")
  assert(unit, "trace: no case set up")
  append(path, "begin " .. rest .. "\n")
  unit()
  append(path, "end " .. rest .. "\n")
  return ""
end

function commands.memory(rest)
  local T, B, H = rest:match("^(%d+) (%d+) (%d+)$")
  assert(T, "memory: expected T B H")
  local workspace, live = memory(tonumber(T), tonumber(B), tonumber(H))
  return workspace .. " " .. live
end

for line in io.lines() do
  local command, rest = line:match("^(%S+)%s*(.-)%s*$")
  if command == "quit" then break end
  local handler = commands[command]
  local ok, answer = pcall(handler or error, handler and rest or ("unknown command " .. tostring(command)))
  io.write(ok and ("ok " .. answer) or ("error " .. tostring(answer):gsub("\n", " ")), "\n")
  io.flush()
end
