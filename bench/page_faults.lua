-- The loop that bench/page_faults.sh measures: N forwards of an LSTM layer in evaluation mode
-- (T=50, input_size = H), each returning a new y, or with OUT=1 writing into the last one
-- ({out = y}). Env: H (512), B (64), OUT (0).
--   lua5.4 bench/page_faults.lua N
local root = (arg[0]:match("^(.*)bench/") or "./")
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath
local recur = require "recur"
recur.set_num_threads(1)
local H, B = tonumber(os.getenv("H") or 512), tonumber(os.getenv("B") or 64)
local layer = recur.LSTM{input_size = H, hidden_size = H}
layer:evaluate()
local x = recur.randn{50, B, H}
local y = layer:forward(x)
local opts = os.getenv("OUT") == "1" and {out = y} or nil
for _ = 1, tonumber(arg[1] or 10) do layer:forward(x, nil, nil, opts) end
