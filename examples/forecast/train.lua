-- Forecasts the next 24 hours of Seattle's temperature from the previous 48 with a GRU,
-- and compares its mean absolute error on the held-out end of the year with two
-- baselines: persistence (each hour as the same hour the day before) and the last value.
-- The series (vega-datasets' seattle-temps) is a smooth typical year: each day is nearly
-- the day before, so persistence is already close; the GRU learns the correction on top
-- of it (the residual y - persistence, scaled by its training standard deviation).
--
--   lua5.4 examples/forecast/train.lua [--epochs N] [--hidden N] [--seed N] (--help for all options)

local root = (arg[0]:match("^(.*)examples/") or "./")
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. package.path
package.cpath = root .. "?.so;" .. package.cpath

local recur = require "recur"
local cli = dofile(root .. "examples/common/cli.lua")
local data = recur.data

local opt = cli.parse_args(arg, {
  data = root .. "examples/data/seattle-temps.csv", input = 48, horizon = 24, hidden = 64, layers = 1,
  epochs = 8, steps = 0, batch = 64, lr = 3e-3, ["test-fraction"] = 0.15, seed = 7, guard = true, trace = "",
  out = root .. "examples/forecast/out",
}, "usage: lua5.4 examples/forecast/train.lua [--epochs N] [--steps N] [--hidden N] [--layers N] [--batch N] " ..
  "[--lr X] [--input HOURS] [--horizon HOURS] [--test-fraction F] [--seed N] [--guard on|off] [--trace FILE] " ..
  "[--out DIR]")
recur.manual_seed(opt.seed)
cli.mkdir(opt.out)

-- features per hour: temperature, the hour of day on the unit circle, and the change
-- since the same hour the day before (no day of year: the held-out end of the year would
-- lie outside the days seen in training)
local cols, n = data.read_csv(opt.data, {numbers = {"temp"}, strings = {"date"}})
local times, features = {}, recur.zeros{n, 4}
for i = 1, n do
  times[i] = data.parse_datetime(cols.date[i])
  local hour = (times[i] % 86400) / 3600
  features:set(i, 1, cols.temp[i])
  features:set(i, 2, math.sin(2 * math.pi * hour / 24))
  features:set(i, 3, math.cos(2 * math.pi * hour / 24))
  features:set(i, 4, i > 24 and cols.temp[i] - cols.temp[i - 24] or 0)
end

-- the final stretch is held out; normalisation uses the training part's statistics only
local train_rows = math.floor(n * (1 - opt["test-fraction"]))
local norm = data.Normalizer(features:narrow(1, 1, train_rows))
local series = norm:apply(features)
local function rows(first, count)
  local out = {}
  for i = 1, count do out[i] = times[first + i - 1] end
  return out
end
-- windows within evenly spaced hours only: the file is in local time, and the hour skipped
-- when daylight saving starts (2010-03-14 02:00) must not sit inside a window
local train_set = data.Windows{series = series:narrow(1, 1, train_rows), input_len = opt.input, horizon = opt.horizon,
  timestamps = rows(1, train_rows), gaps = "split"}
local test_set = data.Windows{series = series:narrow(1, train_rows + 1, n - train_rows), input_len = opt.input,
  horizon = opt.horizon, stride = opt.horizon, timestamps = rows(train_rows + 1, n - train_rows), gaps = "split"}
local loader = data.WindowLoader{windows = train_set, batch_size = opt.batch, generator = recur.Generator(opt.seed)}

-- model: GRU over the window, a linear map from its last state to the next 24 hours
local gru = recur.GRU{input_size = 4, hidden_size = opt.hidden, num_layers = opt.layers}
local head = recur.Linear{in_features = opt.hidden, out_features = opt.horizon}
local model = {gru = gru, head = head}
local optimizer = recur.optim.Adam{{gru, head}, lr = opt.lr}
local mse = recur.MSELoss()

local function last_state(hn) return hn:select(1, opt.layers) end -- (B, H) of the top layer

-- (B, horizon) normalised temperatures of the same hours one day earlier, from a (T, B, F) window
local function persistence_of(x)
  return x:narrow(1, opt.input - 24 + 1, opt.horizon):select(3, 1):transpose(1, 2)
end

-- the scale of the residual y - persistence over the training windows
local residual_std = (function()
  local which = {}
  for i = 1, train_set:count() do which[i] = i end
  local x, y = train_set:batch(which, true)
  local r = y:view{#which, opt.horizon}:sub(persistence_of(x))
  return math.sqrt(r:mul(r):mean())
end)()

local function predict(x)
  local _, hn = gru:forward(x)
  return head:forward(last_state(hn)):mul(residual_std):add(persistence_of(x))
end

-- mean absolute error in degrees F of the model and of both baselines on the test windows
local function test_mae()
  gru:evaluate()
  local which = {}
  for i = 1, test_set:count() do which[i] = i end
  local x, y = test_set:batch(which, true)
  local pred = predict(x)
  gru:train()
  local mean, std = norm.mean[1], norm.std[1]
  local sums, count = {model = 0, persistence = 0, last = 0}, 0
  for b = 1, #which do
    for h = 1, opt.horizon do
      local truth = y:get(b, h, 1) * std + mean
      local yesterday = x:get(opt.input - opt.horizon + h, b, 1) * std + mean
      local last = x:get(opt.input, b, 1) * std + mean
      sums.model = sums.model + math.abs(pred:get(b, h) * std + mean - truth)
      sums.persistence = sums.persistence + math.abs(yesterday - truth)
      sums.last = sums.last + math.abs(last - truth)
      count = count + 1
    end
  end
  return sums.model / count, sums.persistence / count, sums.last / count, #which
end

print(string.format("%d hours (%d evenly spaced stretches); %d training windows, %d test windows of %d h -> %d h; " ..
  "GRU %dx%d", n, train_set.segments + test_set.segments - 1, train_set:count(), test_set:count(), opt.input,
  opt.horizon, opt.layers, opt.hidden))
local trace = opt.trace ~= "" and assert(io.open(opt.trace, "w"))
local history, out, hn = {}, nil, nil
recur.train.fit{
  model = model, optimizer = optimizer, train = loader, epochs = opt.epochs, steps = opt.steps > 0 and opt.steps or nil,
  clip_norm = 1, guard = opt.guard, unit = "windows", items = function(_, y) return y:size(1) end,
  -- the loss on the scaled residual; the gradient reaches the GRU through its last state only
  forward = function(x, y)
    out, hn = gru:forward(x)
    local target = y:view{y:size(1), opt.horizon}:sub(persistence_of(x)):div(residual_std)
    return mse:forward(head:forward(last_state(hn)), target)
  end,
  backward = function()
    local ghn = recur.zeros(hn:shape())
    ghn:narrow(1, opt.layers, 1):copy(head:backward(mse:backward()))
    gru:backward(recur.zeros(out:shape()), ghn)
  end,
  on_step = function(ctx) if trace then trace:write(ctx.step, ",", ctx.loss, "\n") end end,
  on_epoch = function(ctx)
    local mae, persistence, last = test_mae()
    history[#history + 1] = {ctx.epoch, ctx.history[#ctx.history].train_loss, mae, persistence, last}
    print(string.format("epoch %2d  test MAE %.3f F  (persistence %.3f F, last value %.3f F)", ctx.epoch, mae,
      persistence, last))
  end,
}
if trace then trace:close() end

recur.plot.write_csv(opt.out .. "/history.csv", {"epoch", "train_mse", "test_mae_model", "test_mae_persistence",
  "test_mae_last_value"}, history)
local series_of = function(col, name)
  local s = {name = name, x = {}, y = {}}
  for i, r in ipairs(history) do s.x[i], s.y[i] = r[1], r[col] end
  return s
end
recur.plot.write_svg(opt.out .. "/mae.svg", {title = "24-hour temperature forecast, held-out test MAE",
  xlabel = "epoch", ylabel = "MAE (degrees F)", series = {series_of(3, "GRU"), series_of(4, "persistence"),
  series_of(5, "last value")}})
recur.plot.write_svg(opt.out .. "/loss.svg", {title = "training loss", xlabel = "epoch",
  ylabel = "MSE (normalised)", series = {series_of(2, "train")}})
recur.save(opt.out .. "/model.safetensors", model, {normalizer = {mean = norm.mean, std = norm.std},
  residual_std = residual_std})
local mae, persistence, last = test_mae()
print(string.format("test MAE: GRU %.3f F, persistence %.3f F, last value %.3f F (%s)", mae, persistence, last,
  mae < math.min(persistence, last) and "the GRU beats both baselines" or "the GRU does NOT beat both"))
