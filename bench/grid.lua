-- The benchmark grid shared by bench/layers.lua and bench/compare.lua (the torch and BLAS
-- programs take the same grid from bench/grid.txt, which `lua5.4 bench/grid.lua` prints).
local grid = {}

local GATES = {RNN = 1, GRU = 3, LSTM = 4}

function grid.configs(quick)
  local out = {}
  for _, cell in ipairs{"RNN", "GRU", "LSTM"} do
    for _, B in ipairs(quick and {1, 16} or {1, 16, 64}) do
      for _, H in ipairs(quick and {128} or {128, 256, 512}) do
        for _, T in ipairs(quick and {50} or {50, 100}) do
          out[#out + 1] = {cell = cell, T = T, B = B, H = H, gates = GATES[cell]}
        end
      end
    end
  end
  return out
end

-- GEMM flops of a layer with input_size = H: forward 2 T B (I + H) G H; backward twice
-- that (input and recurrent gradients, and both weight gradients)
function grid.flops(c)
  local forward = 2 * c.T * c.B * (c.H + c.H) * c.gates * c.H
  return {forward = forward, backward = 2 * forward}
end

if arg and arg[0] and arg[0]:match("grid%.lua$") then -- run as a script: the grid for the other programs
  for _, c in ipairs(grid.configs(arg[1] == "quick")) do print(c.cell, c.T, c.B, c.H, c.gates) end
end

return grid
