-- A game-like loop: a simulated player walks patrol routes (switching between two,
-- with 10% random moves); a small GRU learns online, from a replay buffer of recent
-- moves, to predict the player's next move, and predicts one step per frame with the
-- stepper API. Prints the accuracy against simple baselines and the cost per frame.
--
--   lua5.4 examples/game/play.lua [--frames N] [--hidden N] [--seed N]

local root = (arg[0]:match("^(.*)examples/") or "./")
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath

local recur = require "recur"
local unpack = table.unpack or unpack -- Lua 5.1 and LuaJIT have it as a global
local cli = dofile(root .. "examples/common/cli.lua")

local opt = cli.parse_args(arg, {
  frames = 6000, hidden = 32, ["train-every"] = 8, ["buffer"] = 1024, ["seq"] = 32, batch = 16, lr = 5e-3,
  noise = 0.1, seed = 3, guard = true, trace = "", out = root .. "examples/game/out",
}, "usage: lua5.4 examples/game/play.lua [--frames N] [--hidden N] [--train-every N] [--noise P] [--lr X] " ..
  "[--seed N] [--guard on|off] [--trace FILE] [--out DIR]")
recur.manual_seed(opt.seed)
local gen = recur.Generator(opt.seed)
cli.mkdir(opt.out)

local MOVES = {"R", "D", "L", "U", "."} -- right, down, left, up, stay
local ID = {R = 1, D = 2, L = 3, U = 4, ["."] = 5}
local ROUTES = {"RRRRDDLLLLUU", "RRDD.LLUU."}

-- the simulated player: follows a route, switches route now and then, sometimes strays
local player = {route = 1, at = 0}
function player.next_move()
  if player.at == 0 and gen:uniform() < 0.02 then player.route = 3 - player.route end
  local route = ROUTES[player.route]
  player.at = player.at % #route + 1
  if gen:uniform() < opt.noise then return gen:random(#MOVES) end
  return ID[route:sub(player.at, player.at)]
end

-- the predictor: one-hot move -> GRU -> linear scores over the 5 moves
local gru = recur.GRU{input_size = #MOVES, hidden_size = opt.hidden}
local head = recur.Linear{in_features = opt.hidden, out_features = #MOVES}
local optimizer = recur.optim.Adam{{gru, head}, lr = opt.lr}
local criterion = recur.CrossEntropyLoss()
local guard = opt.guard and recur.train.LossGuard()
local trace = opt.trace ~= "" and assert(io.open(opt.trace, "w"))
local cell = gru:stepper(1)
local onehot = recur.zeros{#MOVES}

local function predict(last_move)
  onehot:zero()
  onehot[last_move] = 1
  return head:forward(cell:step(onehot)):argmax()
end

-- one training step on random slices of the replay buffer
local buffer, train_steps = {}, 0
local function train_step()
  local T, B = opt.seq, opt.batch
  local x, y = recur.zeros{T, B, #MOVES}, recur.zeros{T, B}
  for b = 1, B do
    local start = gen:random(#buffer - T)
    for t = 1, T do
      x:set(t, b, buffer[start + t - 1], 1)
      y:set(t, b, buffer[start + t])
    end
  end
  optimizer:zero_grad()
  local out = gru:forward(x)
  local loss = criterion:forward(head:forward(out), y)
  train_steps = train_steps + 1
  if trace then trace:write(train_steps, ",", loss, "\n") end
  if guard then guard:check(loss, train_steps) end
  gru:backward(head:backward(criterion:backward()))
  recur.clip_grad_norm({gru, head}, 1)
  optimizer:step()
  return loss
end

-- the mean of the last n values (or of all, when fewer)
local function mean_tail(xs, n)
  n = math.min(n, #xs)
  local s = 0
  for i = #xs - n + 1, #xs do s = s + xs[i] end
  return s / math.max(n, 1)
end

local hits, repeat_hits, counts = {}, {}, {0, 0, 0, 0, 0}
local losses, predict_time, predicted = {}, 0, 0
local last, guess = player.next_move(), nil
buffer[1] = last
for frame = 1, opt.frames do
  local move = player.next_move()
  counts[move] = counts[move] + 1
  if guess then
    hits[#hits + 1] = guess == move and 1 or 0
    repeat_hits[#repeat_hits + 1] = last == move and 1 or 0
  end
  buffer[#buffer + 1] = move
  if #buffer > opt.buffer then table.remove(buffer, 1) end
  if frame % opt["train-every"] == 0 and #buffer > opt.seq + 1 then
    losses[#losses + 1] = {frame, train_step()}
  end
  local t0 = recur.monotonic()
  guess = predict(move)
  predict_time = predict_time + (recur.monotonic() - t0)
  predicted = predicted + 1
  last = move
  if frame % 1000 == 0 then
    print(string.format("frame %5d  accuracy over the last 1000 frames %.1f%% (repeat-last-move %.1f%%)  loss %.3f  " ..
      "%.1f us per predicted frame", frame, 100 * mean_tail(hits, 1000), 100 * mean_tail(repeat_hits, 1000),
      losses[#losses][2], predict_time / predicted * 1e6))
  end
end

if trace then trace:close() end
local majority = math.max(unpack(counts)) / opt.frames
local window = math.min(2000, #hits)
print(string.format("last %d frames: GRU %.1f%%, repeat-last-move %.1f%%, most frequent move %.1f%%; " ..
  "%.1f us per predicted frame (stepper + decoder, H = %d)", window, 100 * mean_tail(hits, window),
  100 * mean_tail(repeat_hits, window), 100 * majority, predict_time / predicted * 1e6, opt.hidden))

-- histories: training loss, and rolling accuracy per 250 frames
local rolling, rows = {name = "GRU", x = {}, y = {}}, {}
local rolling_repeat = {name = "repeat last move", x = {}, y = {}}
for i = 250, #hits, 250 do
  rolling.x[#rolling.x + 1], rolling.y[#rolling.y + 1] = i, 100 * mean_tail({unpack(hits, i - 249, i)}, 250)
  rolling_repeat.x[#rolling_repeat.x + 1] = i
  rolling_repeat.y[#rolling_repeat.y + 1] = 100 * mean_tail({unpack(repeat_hits, i - 249, i)}, 250)
end
local loss_series = {name = "train", x = {}, y = {}}
for i, l in ipairs(losses) do
  rows[i] = l
  loss_series.x[i], loss_series.y[i] = l[1], l[2]
end
recur.plot.write_csv(opt.out .. "/history.csv", {"frame", "train_loss"}, rows)
recur.plot.write_svg(opt.out .. "/loss.svg", {title = "online training loss", xlabel = "frame",
  ylabel = "cross-entropy", series = {loss_series}})
recur.plot.write_svg(opt.out .. "/accuracy.svg", {title = "next-move accuracy (per 250 frames)", xlabel = "frame",
  ylabel = "accuracy (%)", series = {rolling, rolling_repeat}})
recur.save(opt.out .. "/model.safetensors", {gru = gru, head = head})
