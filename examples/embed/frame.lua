-- The script side of examples/embed/host.c: the host owns `observation` (a tensor over
-- its memory) and calls frame() once per frame.
-- luacheck: globals setup frame observation
local recur = require "recur"

local model, cell

function setup(path) -- called by the host
  model = recur.load_model(path)
  cell = model.gru:stepper(1)
end

-- the predicted next move (1-based index into "RDLU.") and the microseconds it took
function frame()
  local t0 = recur.monotonic()
  local scores = model.head:forward(cell:step(observation))
  return scores:argmax(), (recur.monotonic() - t0) * 1e6
end
