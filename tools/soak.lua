-- Soak test: thousands of forward/backward/optimizer steps with changing cells, shapes and
-- batch sizes, variable lengths, steppers and checkpoint round trips; prints the resident
-- memory as it goes and fails if it keeps growing after the warm-up (unless SOAK_RSS=0,
-- as under ASan, whose quarantine of freed memory makes RSS meaningless). `make soak` runs
-- it on the normal build and on the ASan+UBSan build; ITERATIONS (default 3000) sets the length.
local recur = require "recur"

local iterations = tonumber(os.getenv("ITERATIONS")) or 3000
local gen = recur.Generator(42)
recur.manual_seed(42)

local function rss_kb()
  local f = io.open("/proc/self/status")
  if not f then return 0, 0 end
  local status = f:read("*a")
  f:close()
  return tonumber(status:match("VmRSS:%s*(%d+)")) or 0, tonumber(status:match("VmHWM:%s*(%d+)")) or 0
end

local cells = {"RNN", "GRU", "LSTM"}
local models = {}
for i, cell in ipairs(cells) do
  local opts = {input_size = 6, hidden_size = 12 + 4 * i, num_layers = 1 + i % 2, bidirectional = i == 2, dropout = 0.1}
  if cell == "LSTM" then opts.proj_size = 5 end
  models[cell] = {layer = recur[cell](opts)}
  models[cell].opt = recur.optim.Adam{models[cell].layer, lr = 1e-3}
end
local path = os.tmpname()
local samples, warm = {}, nil
local start = recur.monotonic()
for it = 1, iterations do
  local cell = cells[gen:random(3)]
  local m = models[cell]
  local T, B = gen:random(1, 60), gen:random(1, 32)
  local x = recur.randn({T, B, 6}, gen)
  local lengths
  if gen:uniform() < 0.3 then
    lengths = {}
    for b = 1, B do lengths[b] = gen:random(1, T) end
  end
  m.opt:zero_grad()
  local y
  if cell == "LSTM" then y = m.layer:forward(x, nil, nil, lengths and {lengths = lengths}) else
    y = m.layer:forward(x, nil, lengths and {lengths = lengths}) end
  m.layer:backward(recur.randn(y:shape(), gen))
  recur.clip_grad_norm(m.layer, 1)
  m.opt:step()
  if it % 50 == 0 and cell ~= "GRU" then -- a stepper run (not bidirectional)
    local s = m.layer:stepper(B)
    for t = 1, math.min(T, 5) do s:step(x[t]) end
  end
  if it % 100 == 0 then
    recur.save(path, m.layer)
    m.layer:load_state(recur.load(path))
  end
  if it % math.max(1, math.floor(iterations / 10)) == 0 then
    collectgarbage()
    local rss, peak = rss_kb()
    samples[#samples + 1] = rss
    if it >= iterations / 2 and not warm then warm = rss end
    print(string.format("iteration %5d  RSS %6d KB  peak %6d KB  Lua heap %7.0f KB  %.1f s", it, rss, peak,
      collectgarbage("count"), recur.monotonic() - start))
  end
end
os.remove(path)
local last = samples[#samples]
print(string.format("RSS at the middle %d KB, at the end %d KB (%+.1f%%)", warm, last, 100 * (last - warm) / warm))
if os.getenv("SOAK_RSS") ~= "0" and last > warm * 1.10 then
  error("memory grew by more than 10% in the second half of the run")
end
