-- The script side of examples/embed/host.c: the host owns `observation` (a tensor over
-- its memory) and calls frame() once per frame.
local recur = require "recur"

local model, cell

function setup(path) -- luacheck: ignore 131 (called by the host)
  model = recur.load_model(path)
  cell = model.gru:stepper(1)
end

-- the predicted next move (1-based index into "RDLU.") and the microseconds it took
function frame() -- luacheck: ignore 131
  local t0 = recur.monotonic()
  local scores = model.head:forward(cell:step(observation)) -- luacheck: ignore 113
  return scores:argmax(), (recur.monotonic() - t0) * 1e6
end
