--- Loss histories as CSV and as self-contained SVG line charts (no plotting dependency).
-- Files are written to a temporary name and renamed, so a reader never sees half a file.
-- @module recur.plot
local core = require "recur.core"
local util = require "recur.util"

local plot = {}

local function check_string(fn, what, v)
  if type(v) ~= "string" then util.error("%s: %s: expected a string, got %s", fn, what, util.describe(v)) end
end

local function write_as(fn, path, content)
  check_string(fn, "path", path)
  local ok, err = pcall(core.F.write_file_atomic, path, content)
  if not ok then util.rethrow(fn, err) end
end

--- Writes `content` to `path` atomically: through a temporary file in the same
-- directory, fsynced and renamed over the old file.
function plot.write_atomic(path, content)
  check_string("write_atomic", "content", content)
  write_as("write_atomic", path, content)
end

local array = util.array

local function is_cell(v) return type(v) == "number" or type(v) == "string" end
local function is_row(v) return type(v) == "table" end

--- Writes rows (arrays of numbers or strings) under a header as CSV.
function plot.write_csv(path, header, rows)
  check_string("write_csv", "path", path)
  local lines = {table.concat(header, ",", 1, array("write_csv", "header", header, is_cell, "a string or a number"))}
  for r = 1, array("write_csv", "rows", rows, is_row, "an array") do
    local row, cells = rawget(rows, r), {}
    for i = 1, array("write_csv", "rows[" .. r .. "]", row, is_cell, "a string or a number") do
      local v = rawget(row, i)
      cells[i] = type(v) == "number" and string.format("%.6g", v) or v
    end
    lines[#lines + 1] = table.concat(cells, ",")
  end
  write_as("write_csv", path, table.concat(lines, "\n") .. "\n")
end

local COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

local function escape(s)
  return (tostring(s):gsub("[<>&\"]", {["<"] = "&lt;", [">"] = "&gt;", ["&"] = "&amp;", ['"'] = "&quot;"}))
end

local function finite(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end

-- [lo, hi], widened around its middle when it is (nearly) a single value: its span is
-- then always far above a float's resolution, for ticks and coordinates
local function widen(lo, hi)
  local scale = math.max(math.abs(lo), math.abs(hi))
  if hi / 2 - lo / 2 > scale * 1e-12 then return lo, hi end
  local mid, half = lo / 2 + hi / 2, math.max(scale * 0.05, 1e-300)
  if scale < 20 then half = 1 end
  return mid - half, mid + half
end

-- about 5 round tick values covering [lo, hi] (a finite span, from widen), at most 20
local function ticks(lo, hi)
  local half = hi / 2 - lo / 2 -- half the span: no overflow at the ends of the double range
  local step = 10 ^ math.floor(math.log(half / 2.5) / math.log(10))
  for _, m in ipairs{1, 2, 5, 10} do
    if half / (step * m) <= 3 then
      step = step * m
      break
    end
  end
  local first, last = math.ceil(lo / step), math.floor(hi / step + 1e-9)
  if not (last - first >= 0 and last - first < 20) then return {lo, hi} end
  local out = {}
  for k = first, last do out[#out + 1] = k * step end
  return out
end

local function is_series(v) return type(v) == "table" end
local function is_number(v) return type(v) == "number" end

--- An SVG line chart. Points whose x or y is NaN or infinite are left out.
-- @tparam table opts `series` ({{name =, x = {...}, y = {...}}, ...}), `title`, `xlabel`, `ylabel`,
-- `width` (720), `height` (420)
-- @treturn string the SVG document
function plot.svg(opts)
  local o = util.options("svg", opts, {
    series = {"table", required = true}, title = {"string", default = ""}, xlabel = {"string", default = ""},
    ylabel = {"string", default = ""}, width = {"number", default = 720, min = 240, max = 100000},
    height = {"number", default = 420, min = 100, max = 100000},
  })
  local series = {}
  for k = 1, util.array("svg", "series", o.series, is_series, "a table {name =, x =, y =}") do
    local s = rawget(o.series, k)
    local what = "series[" .. k .. "]"
    local name = rawget(s, "name")
    if name ~= nil and type(name) ~= "string" then
      util.error("svg: %s.name: expected a string, got %s", what, util.describe(name))
    end
    local x, y = rawget(s, "x"), rawget(s, "y")
    local nx = util.array("svg", what .. ".x", x, is_number, "a number")
    local ny = util.array("svg", what .. ".y", y, is_number, "a number")
    if nx ~= ny then util.error("svg: %s has %d x and %d y values", what, nx, ny) end
    local points = {}
    for i = 1, nx do
      if finite(x[i]) and finite(y[i]) then points[#points + 1] = {x[i], y[i]} end
    end
    series[k] = {name = name or ("series " .. k), points = points}
  end
  local x0, y0, x1, y1 = math.huge, math.huge, -math.huge, -math.huge
  for _, s in ipairs(series) do
    for _, p in ipairs(s.points) do
      x0, x1 = math.min(x0, p[1]), math.max(x1, p[1])
      y0, y1 = math.min(y0, p[2]), math.max(y1, p[2])
    end
  end
  if x0 > x1 then x0, x1, y0, y1 = 0, 1, 0, 1 end
  x0, x1 = widen(x0, x1)
  y0, y1 = widen(y0, y1)
  local pad = 0.1 * (y1 / 2 - y0 / 2) -- 5% of the range: keeps lines off the frame
  if finite(y0 - pad) and finite(y1 + pad) then y0, y1 = y0 - pad, y1 + pad end
  local left, right, top, bottom = 70, 150, 40, 50 -- the legend sits in the right margin
  local w, h = o.width - left - right, o.height - top - bottom
  -- positions as fractions of the ranges, halved first: no overflow at the ends of the double range
  local function px(v) return left + (v / 2 - x0 / 2) / (x1 / 2 - x0 / 2) * w end
  local function py(v) return top + (1 - (v / 2 - y0 / 2) / (y1 / 2 - y0 / 2)) * h end
  local out = {string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" ' ..
    'font-family="sans-serif" font-size="12">', o.width, o.height),
    string.format('<rect width="%d" height="%d" fill="white"/>', o.width, o.height),
    string.format('<text x="%d" y="22" font-size="15" text-anchor="middle">%s</text>', o.width / 2, escape(o.title))}
  for _, v in ipairs(ticks(y0, y1)) do
    out[#out + 1] = string.format('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>' ..
      '<text x="%.1f" y="%.1f" text-anchor="end">%.4g</text>', left, left + w, py(v), py(v), left - 6, py(v) + 4, v)
  end
  for _, v in ipairs(ticks(x0, x1)) do
    out[#out + 1] = string.format('<text x="%.1f" y="%.1f" text-anchor="middle">%.6g</text>', px(v), top + h + 18, v)
  end
  out[#out + 1] = string.format('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>', left, top, w, h)
  out[#out + 1] = string.format('<text x="%.1f" y="%d" text-anchor="middle">%s</text>', left + w / 2, o.height - 10,
    escape(o.xlabel))
  out[#out + 1] = string.format('<text transform="translate(16,%.1f) rotate(-90)" text-anchor="middle">%s</text>',
    top + h / 2, escape(o.ylabel))
  for k, s in ipairs(series) do
    local color, points = COLORS[(k - 1) % #COLORS + 1], {}
    for i, p in ipairs(s.points) do points[i] = string.format("%.1f,%.1f", px(p[1]), py(p[2])) end
    out[#out + 1] = string.format('<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>', color,
      table.concat(points, " "))
    out[#out + 1] = string.format('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/>' ..
      '<text x="%d" y="%d">%s</text>', left + w + 12, left + w + 32, top + 10 + 18 * (k - 1),
      top + 10 + 18 * (k - 1), color, left + w + 38, top + 14 + 18 * (k - 1), escape(s.name))
  end
  out[#out + 1] = "</svg>"
  return table.concat(out, "\n") .. "\n"
end

--- Writes an SVG chart (see `svg`) to path.
function plot.write_svg(path, opts)
  check_string("write_svg", "path", path)
  write_as("write_svg", path, plot.svg(opts))
end

return plot
