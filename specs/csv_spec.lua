-- recur.data.read_csv on the files users have: other separators, missing values, stacked series.
local recur = require "recur"
local helpers = require "specs.helpers"
local error_of = helpers.error_of
local data = recur.data

local function with_file(content, fn)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  local ok, a, b = pcall(fn, path)
  os.remove(path)
  if not ok then error(a, 0) end
  return a, b
end

local function read(content, opts) return with_file(content, function(path) return data.read_csv(path, opts) end) end

describe("read_csv", function()
  it("sniffs the separator among comma, semicolon and tab, or takes the one given", function()
    local cols, rows = read("date;temp\n2010-01-01;1.5\n2010-01-02;2\n", {numbers = {"temp"}, strings = {"date"}})
    assert.are.equal(2, rows)
    assert.are.same({1.5, 2}, cols.temp:totable())
    assert.are.same({"2010-01-01", "2010-01-02"}, cols.date)
    assert.are.same({3, 4}, (read("a\tb\n1\t3\n2\t4\n", {numbers = {"b"}})).b:totable())
    assert.are.same({7}, (read("a|b\n1,5|7\n", {numbers = {"b"}, separator = "|"})).b:totable())
    -- a semicolon inside quotes does not count; commas win ties
    assert.are.same({2}, (read('"x;y",b\n1,2\n', {numbers = {"b"}})).b:totable())
    assert.matches("separator: expected one character", error_of(read, "a\n1\n", {numbers = {"a"}, separator = ";;"}))
  end)

  it("handles missing values as asked: error (default), skip, nan or a number", function()
    local csv = "t,v,w\n1,10,5\n2,,6\n3,NA,7\n4,13,n/a\n5,14, \n"
    assert.matches("row 2 %(line 3%), column 'v': an empty cell is a missing value", error_of(read, csv, {numbers = {"v"}}))
    local cols, rows = read(csv, {numbers = {"t", "v", "w"}, missing = "skip"})
    assert.are.equal(1, rows)
    assert.are.same({1}, cols.t:totable())
    cols, rows = read(csv, {numbers = {"t", "v"}, missing = "skip"})
    assert.are.equal(3, rows)
    assert.are.same({1, 4, 5}, cols.t:totable())
    assert.are.same({10, 13, 14}, cols.v:totable())
    local v = (read(csv, {numbers = {"v"}, missing = "nan"})).v
    assert.are.equal(5, v:numel())
    assert.is_true(v[2] ~= v[2] and v[3] ~= v[3])
    assert.are.same({10, -1, -1, 13, 14}, (read(csv, {numbers = {"v"}, missing = -1})).v:totable())
    assert.matches("'abc' is not a finite number", error_of(read, "v\nabc\n", {numbers = {"v"}, missing = "skip"}))
    assert.matches('missing: expected "error", "skip", "nan" or a number, got "drop"',
      error_of(read, csv, {numbers = {"v"}, missing = "drop"}))
  end)

  it("selects the rows of one series from a file that stacks several", function()
    local csv = "station,day,temp\nSEA,1,5\nPDX,1,8\nSEA,2,6\nPDX,2,9\nSEA,3,x\n"
    local cols, rows = read(csv, {numbers = {"temp"}, where = {station = "PDX"}})
    assert.are.equal(2, rows)
    assert.are.same({8, 9}, cols.temp:totable())
    cols = read(csv, {numbers = {"temp"}, strings = {"station"}, where = {day = 2}})
    assert.are.same({6, 9}, cols.temp:totable())
    assert.are.same({"SEA", "PDX"}, cols.station)
    assert.are.same({9}, (read(csv, {numbers = {"temp"}, where = {station = "PDX", day = 2}})).temp:totable())
    assert.matches("row 5 %(line 6%), column 'temp': 'x' is not a finite number",
      error_of(read, csv, {numbers = {"temp"}, where = {station = "SEA"}}))
    assert.matches("no row is left", error_of(read, csv, {numbers = {"temp"}, where = {station = "LAX"}}))
    assert.matches("no column 'city'; the columns are: station, day, temp",
      error_of(read, csv, {numbers = {"temp"}, where = {city = "SEA"}}))
  end)

  it("is an error when no column is requested, naming the columns", function()
    local csv = "date;temp\n2010-01-01;1\n"
    local err = with_file(csv, function(path) return helpers.error_at_caller(data.read_csv, path) end)
    assert.matches("^.-helpers.lua:%d+: .-: read_csv: no column requested %(give numbers = {...} and/or strings = {...}%); " ..
      "the columns are: date, temp", err)
    assert.matches("no column 'temperature'; the columns are: date, temp", error_of(read, csv, {numbers = {"temperature"}}))
    assert.matches("read_csv: path: expected a string, got nil", helpers.error_at_caller(data.read_csv, nil))
    assert.matches("unknown option 'number'", error_of(read, csv, {number = {"temp"}}))
  end)
end)
