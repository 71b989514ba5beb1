--- Loss histories as CSV and as self-contained SVG line charts (no plotting dependency).
-- Files are written to a temporary name and renamed, so a reader never sees half a file.
-- @module recur.plot
local util = require "recur.util"

local plot = {}

--- Writes `content` to `path` through a temporary file in the same directory and a rename.
function plot.write_atomic(path, content)
  local tmp = string.format("%s.tmp-%d", path, math.random(0, 1e9))
  local f, err = io.open(tmp, "wb")
  if not f then error("cannot write " .. err, 2) end
  local ok, werr = f:write(content)
  local closed, cerr = f:close()
  if not ok or not closed then
    os.remove(tmp)
    error(string.format("cannot write %s: %s", path, tostring(werr or cerr)), 2)
  end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    error(string.format("cannot rename %s to %s: %s", tmp, path, tostring(rerr)), 2)
  end
end

--- Writes rows (arrays of numbers or strings) under a header as CSV.
function plot.write_csv(path, header, rows)
  local lines = {table.concat(header, ",")}
  for _, row in ipairs(rows) do
    local cells = {}
    for i, v in ipairs(row) do cells[i] = type(v) == "number" and string.format("%.6g", v) or tostring(v) end
    lines[#lines + 1] = table.concat(cells, ",")
  end
  plot.write_atomic(path, table.concat(lines, "\n") .. "\n")
end

local COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

local function escape(s)
  return (tostring(s):gsub("[<>&\"]", {["<"] = "&lt;", [">"] = "&gt;", ["&"] = "&amp;", ['"'] = "&quot;"}))
end

-- about 5 round tick values covering [lo, hi]
local function ticks(lo, hi)
  local span = hi - lo
  if span <= 0 then span = math.abs(hi) > 0 and math.abs(hi) or 1 end
  local step = 10 ^ math.floor(math.log(span / 5) / math.log(10))
  for _, m in ipairs{1, 2, 5, 10} do
    if span / (step * m) <= 6 then
      step = step * m
      break
    end
  end
  local out = {}
  for v = math.ceil(lo / step) * step, hi + step * 1e-9, step do out[#out + 1] = v end
  return out
end

--- An SVG line chart.
-- @tparam table opts `series` ({{name =, x = {...}, y = {...}}, ...}), `title`, `xlabel`, `ylabel`,
-- `width` (720), `height` (420)
-- @treturn string the SVG document
function plot.svg(opts)
  local o = util.options("plot.svg", opts, {
    series = {"table", required = true}, title = {"string", default = ""}, xlabel = {"string", default = ""},
    ylabel = {"string", default = ""}, width = {"number", default = 720}, height = {"number", default = 420},
  })
  local x0, y0, x1, y1 = math.huge, math.huge, -math.huge, -math.huge
  for _, s in ipairs(o.series) do
    if #s.x ~= #s.y then error(string.format("plot.svg: series %s has %d x and %d y values", s.name, #s.x, #s.y), 2) end
    for i = 1, #s.x do
      if s.y[i] == s.y[i] and math.abs(s.y[i]) < math.huge then
        x0, x1 = math.min(x0, s.x[i]), math.max(x1, s.x[i])
        y0, y1 = math.min(y0, s.y[i]), math.max(y1, s.y[i])
      end
    end
  end
  if x0 > x1 then x0, x1, y0, y1 = 0, 1, 0, 1 end
  if x1 == x0 then x1 = x0 + 1 end
  if y1 == y0 then y0, y1 = y0 - 1, y1 + 1 end
  local pad = 0.05 * (y1 - y0) -- keep lines off the frame
  y0, y1 = y0 - pad, y1 + pad
  local left, right, top, bottom = 70, 150, 40, 50 -- the legend sits in the right margin
  local w, h = o.width - left - right, o.height - top - bottom
  local function px(v) return left + (v - x0) / (x1 - x0) * w end
  local function py(v) return top + (1 - (v - y0) / (y1 - y0)) * h end
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
  for k, s in ipairs(o.series) do
    local color, points = COLORS[(k - 1) % #COLORS + 1], {}
    for i = 1, #s.x do
      if s.y[i] == s.y[i] and math.abs(s.y[i]) < math.huge then
        points[#points + 1] = string.format("%.1f,%.1f", px(s.x[i]), py(s.y[i]))
      end
    end
    out[#out + 1] = string.format('<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>', color,
      table.concat(points, " "))
    out[#out + 1] = string.format('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/>' ..
      '<text x="%d" y="%d">%s</text>', left + w + 12, left + w + 32, top + 10 + 18 * (k - 1),
      top + 10 + 18 * (k - 1), color, left + w + 38, top + 14 + 18 * (k - 1), escape(s.name or ("series " .. k)))
  end
  out[#out + 1] = "</svg>"
  return table.concat(out, "\n") .. "\n"
end

--- Writes an SVG chart (see `svg`) to path.
function plot.write_svg(path, opts) plot.write_atomic(path, plot.svg(opts)) end

return plot
