-- recur in LÖVE: a runner walks patrol routes on a grid (switching routes now and then, 10% of
-- its moves random); a GRU learns online, from a replay buffer of the moves so far, to predict
-- its next move, one stepper call per move, and the game draws what it predicts: where the
-- runner will be and how sure it is. Take over with the arrow keys and it learns your habits.
--
--   love examples/love                                 play (arrows: move, A: autopilot, space: pause)
--   love examples/love --frames 600 --screenshot F.png runs 600 frames (a move each), saves the
--                                                      last one as a PNG and quits: `make love-test`
--
-- From the repository it loads recur from lua/ and build/luajit/ (LÖVE runs LuaJIT: `make
-- love-test` builds recur for it). A shipped game carries recur itself: see README.md, "LÖVE".

local function repository_root()
  local source = love.filesystem.getSource()
  return source:match("^(.*)/examples/love/?$") or (source:match("^examples/love/?$") and ".")
end

local root = repository_root()
if root then
  package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
  package.cpath = root .. "/build/luajit/?.so;" .. package.cpath
end
local recur = require "recur"

local MOVES = {{1, 0, "R"}, {0, 1, "D"}, {-1, 0, "L"}, {0, -1, "U"}, {0, 0, "."}} -- dx, dy, label
local ID = {R = 1, D = 2, L = 3, U = 4, ["."] = 5}
local ROUTES = {"RRRRDDLLLLUU", "RRDD.LLUU."}
local KEYS = {right = 1, down = 2, left = 3, up = 4, space = nil}
local COLS, ROWS, TILE = 16, 12, 36
local SECONDS_PER_MOVE = 0.15
local HIDDEN, TRAIN_EVERY, BUFFER, SEQ, BATCH = 32, 8, 1024, 32, 16

local options = {frames = nil, screenshot = nil}
local gen = recur.Generator(7)
recur.manual_seed(7)

-- the runner: follows a route, switches route at its start now and then, sometimes strays;
-- a key press (or autopilot off) makes the player the runner
local runner = {x = 4, y = 3, route = 1, at = 0, manual = false, next_key = nil, trail = {}}

local function scripted_move()
  if runner.at == 0 and gen:uniform() < 0.02 then runner.route = 3 - runner.route end
  local route = ROUTES[runner.route]
  runner.at = runner.at % #route + 1
  if gen:uniform() < 0.1 then return gen:random(#MOVES) end
  return ID[route:sub(runner.at, runner.at)]
end

-- the predictor: one-hot move -> GRU -> linear scores over the 5 moves
local gru = recur.GRU{input_size = #MOVES, hidden_size = HIDDEN}
local head = recur.Linear{in_features = HIDDEN, out_features = #MOVES}
local optimizer = recur.optim.Adam{{gru, head}, lr = 5e-3}
local criterion = recur.CrossEntropyLoss()
local cell = gru:stepper(1)
local onehot = recur.zeros{#MOVES}

local state = {
  moves = {}, -- the replay buffer
  probabilities = {0.2, 0.2, 0.2, 0.2, 0.2}, -- the prediction of the next move
  hits = {}, -- 1 or 0 per predicted move
  losses = {},
  predict_us = 0,
  frame = 0,
  clock = 0,
  paused = false,
}

-- softmax of the head's scores for the move just made: the next move's probabilities
local function predict(move)
  local t0 = recur.monotonic()
  onehot:zero()
  onehot[move] = 1
  local scores = head:forward(cell:step(onehot))
  state.predict_us = 0.9 * state.predict_us + 0.1 * (recur.monotonic() - t0) * 1e6
  local top, sum = scores:max(), 0
  for i = 1, #MOVES do
    state.probabilities[i] = math.exp(scores[i] - top)
    sum = sum + state.probabilities[i]
  end
  for i = 1, #MOVES do state.probabilities[i] = state.probabilities[i] / sum end
end

-- one training step on random slices of the replay buffer (as examples/game/play.lua)
local function train_step()
  local x, y = recur.zeros{SEQ, BATCH, #MOVES}, recur.zeros{SEQ, BATCH}
  for b = 1, BATCH do
    local start = gen:random(#state.moves - SEQ)
    for t = 1, SEQ do
      x:set(t, b, state.moves[start + t - 1], 1)
      y:set(t, b, state.moves[start + t])
    end
  end
  optimizer:zero_grad()
  local loss = criterion:forward(head:forward(gru:forward(x)), y)
  gru:backward(head:backward(criterion:backward()))
  recur.clip_grad_norm({gru, head}, 1)
  optimizer:step()
  state.losses[#state.losses + 1] = loss
end

local function best_guess()
  local best = 1
  for i = 2, #MOVES do
    if state.probabilities[i] > state.probabilities[best] then best = i end
  end
  return best
end

local function step()
  local move = runner.manual and (runner.next_key or ID["."]) or scripted_move()
  runner.next_key = nil
  state.hits[#state.hits + 1] = best_guess() == move and 1 or 0
  table.insert(runner.trail, 1, {runner.x, runner.y})
  runner.trail[13] = nil
  runner.x = (runner.x + MOVES[move][1]) % COLS -- the arena wraps around
  runner.y = (runner.y + MOVES[move][2]) % ROWS
  state.moves[#state.moves + 1] = move
  if #state.moves > BUFFER then table.remove(state.moves, 1) end
  if #state.moves % TRAIN_EVERY == 0 and #state.moves > SEQ + 1 then train_step() end
  predict(move)
end

local function recent_accuracy(n)
  local hits, count = 0, math.min(n, #state.hits)
  for i = #state.hits - count + 1, #state.hits do hits = hits + state.hits[i] end
  return count > 0 and hits / count or 0
end

function love.load(args)
  for i = 1, #args - 1 do
    if args[i] == "--frames" then options.frames = tonumber(args[i + 1]) end
    if args[i] == "--screenshot" then options.screenshot = args[i + 1] end
  end
  if options.frames then
    love.window.setVSync(0) -- a headless run goes as fast as it can
    -- no error screen waiting for a click: report and exit with status 1
    function love.errorhandler(msg)
      io.stderr:write(debug.traceback("recur LÖVE example: " .. tostring(msg), 2), "\n")
      return function() return 1 end
    end
  end
  love.graphics.setBackgroundColor(0.11, 0.12, 0.14)
  predict(ID["."])
end

function love.keypressed(key)
  if KEYS[key] then
    runner.manual, runner.next_key = true, KEYS[key]
  elseif key == "a" then
    runner.manual = false
  elseif key == "space" then
    state.paused = not state.paused
  elseif key == "escape" then
    love.event.quit(0)
  end
end

function love.update(dt)
  state.frame = state.frame + 1
  if options.frames then -- one move a frame
    step()
    return
  end
  if state.paused then return end
  state.clock = state.clock + dt
  while state.clock >= SECONDS_PER_MOVE do
    state.clock = state.clock - SECONDS_PER_MOVE
    step()
  end
end

local function tile_center(x, y) return (x + 0.5) * TILE, (y + 0.5) * TILE end

local function draw_arena()
  love.graphics.setColor(0.18, 0.19, 0.22)
  for x = 0, COLS - 1 do
    for y = 0, ROWS - 1 do love.graphics.rectangle("fill", x * TILE + 1, y * TILE + 1, TILE - 2, TILE - 2) end
  end
  for i, p in ipairs(runner.trail) do -- where the runner has been
    love.graphics.setColor(0.95, 0.55, 0.2, 0.5 * (1 - i / 13))
    local cx, cy = tile_center(p[1], p[2])
    love.graphics.circle("fill", cx, cy, TILE * 0.18)
  end
  -- the prediction: each next tile as bright as it is likely, a ring on the best guess
  for i, m in ipairs(MOVES) do
    local x, y = (runner.x + m[1]) % COLS, (runner.y + m[2]) % ROWS
    love.graphics.setColor(0.3, 0.75, 1.0, 0.85 * state.probabilities[i])
    love.graphics.rectangle("fill", x * TILE + 3, y * TILE + 3, TILE - 6, TILE - 6, 6)
  end
  local guess = MOVES[best_guess()]
  local gx, gy = tile_center((runner.x + guess[1]) % COLS, (runner.y + guess[2]) % ROWS)
  love.graphics.setColor(0.55, 0.9, 1.0)
  love.graphics.setLineWidth(3)
  love.graphics.circle("line", gx, gy, TILE * 0.42)
  local rx, ry = tile_center(runner.x, runner.y)
  love.graphics.setColor(0.95, 0.55, 0.2)
  love.graphics.circle("fill", rx, ry, TILE * 0.34)
end

local function draw_panel(left)
  local y = 14
  local function text(s, size_y)
    love.graphics.setColor(0.9, 0.9, 0.9)
    love.graphics.print(s, left, y)
    y = y + (size_y or 20)
  end
  text(runner.manual and "You move (arrows); A: autopilot" or "Autopilot: patrol routes, 10% random", 24)
  text("Next move, as the GRU predicts it:")
  for i, m in ipairs(MOVES) do
    local p = state.probabilities[i]
    love.graphics.setColor(0.3, 0.75, 1.0)
    love.graphics.rectangle("fill", left + 64, y + 3, 200 * p, 12)
    love.graphics.setColor(0.9, 0.9, 0.9)
    love.graphics.print(string.format("%s %3.0f%%", m[3], 100 * p), left, y)
    y = y + 18
  end
  y = y + 10
  text(string.format("accuracy, last 100 moves: %.0f%%", 100 * recent_accuracy(100)))
  for i = math.max(1, #state.hits - 59), #state.hits do -- recent hits (green) and misses (red)
    local k = i - math.max(1, #state.hits - 59)
    if state.hits[i] == 1 then love.graphics.setColor(0.3, 0.8, 0.4) else love.graphics.setColor(0.85, 0.3, 0.3) end
    love.graphics.rectangle("fill", left + (k % 30) * 9, y + math.floor(k / 30) * 9, 7, 7)
  end
  y = y + 26
  local loss = state.losses[#state.losses]
  text(string.format("moves %d, training steps %d", #state.hits, #state.losses))
  text(loss and string.format("training loss %.3f", loss) or "training starts after 33 moves")
  text(string.format("stepper + head: %.1f us per prediction", state.predict_us), 30)
  love.graphics.setColor(0.6, 0.6, 0.6)
  love.graphics.print(string.format("recur %s on %s\nspace: pause, escape: quit", recur._VERSION, recur.config().lua),
    left, ROWS * TILE - 40)
end

function love.draw()
  draw_arena()
  draw_panel(COLS * TILE + 20)
  if options.frames and state.frame >= options.frames then
    if options.screenshot then
      love.graphics.captureScreenshot(function(image)
        local f = assert(io.open(options.screenshot, "wb"))
        f:write(image:encode("png"):getString())
        f:close()
        print(string.format("%d frames, accuracy over the last 100 moves %.0f%%; screenshot %s", state.frame,
          100 * recent_accuracy(100), options.screenshot))
        love.event.quit(0)
      end)
    else
      love.event.quit(0)
    end
    options.frames = math.huge -- once
  end
end
