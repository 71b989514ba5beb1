-- recur.data.parse_datetime: strptime-style formats and the common unambiguous forms.
-- Expected values come from Python's datetime (UTC timestamps).
local recur = require "recur"
local helpers = require "specs.helpers"
local error_of = helpers.error_of
local parse = recur.data.parse_datetime

describe("parse_datetime", function()
  it("reads ISO 8601 with T, Z, offsets and fractions, and the other unambiguous forms", function()
    local cases = {
      {"1970-01-01", 0},
      {"2010-01-31T13:00:05", 1264942805},
      {"2010-01-31 13:00:05Z", 1264942805},
      {"2010-01-31T14:00:05+01:00", 1264942805},
      {"2010-01-31T08:00:05-0500", 1264942805},
      {"2010-01-31T13:00:05.25Z", 1264942805.25},
      {"2010-01-31 13:00:05,5", 1264942805.5},
      {"2010/01/31 13:00", 1264942800},
      {"2010/1/31 1:00 PM", 1264942800},
      {"2010.01.31", 1264896000},
      {"Jan 31 2010", 1264896000},
      {"January 31, 2010", 1264896000},
      {"31 Jan 2010 13:00:05", 1264942805},
      {"31-jan-2010", 1264896000},
      {"Tue, 15 Nov 1994 08:12:31 -0500", 784905151},
      {"2000-02-29", 951782400},
      {"1969-12-31T23:59:59", -1},
      {"2038-01-19T03:14:08", 2147483648},
      {"1900-03-01", -2203891200},
      {"2400-12-31 23:59", 13601087940},
      {"  2010-01-31  ", 1264896000},
    }
    for _, case in ipairs(cases) do assert.are.equal(case[2], parse(case[1]), case[1]) end
  end)

  it("takes strptime-style formats", function()
    assert.are.equal(946771200, parse("1/2/2000", "%m/%d/%Y"))
    assert.are.equal(949363200, parse("1/2/2000", "%d/%m/%Y"))
    assert.are.equal(946684740, parse("31/12/99 11:59 PM", "%d/%m/%y %I:%M %p"))
    assert.are.equal(1800, parse("12:30 AM", "%I:%M %p"))
    assert.are.equal(1356912000, parse("2012 366", "%Y %j"))
    assert.are.equal(1616875200.123456, parse("2021-03-28T01:30:00.123456+05:30", "%Y-%m-%dT%H:%M:%S.%f%z"))
    assert.are.equal(1616875200.123456, parse("2021-03-28T01:30:00.123456+05:30", "%FT%T%z"))
    assert.are.equal(784905151, parse("Tue, 15 Nov 1994 08:12:31 -0500", "%a, %d %b %Y %H:%M:%S %z"))
    assert.are.equal(946836000, parse("02/Jan/2000:13:00:00 -0500", "%d/%b/%Y:%H:%M:%S %z"))
    assert.are.equal(1264896000, parse("20100131", "%Y%m%d"))
    assert.are.equal(1264896000, parse("31 January 2010 100%", "%d %B %Y 100%%"))
  end)

  it("names the string, the place and the forms tried", function()
    local err = helpers.error_at_caller(parse, "2010-13-01")
    assert.matches('^.-helpers.lua:%d+: parse_datetime: "2010%-13%-01" is not a date in any of the forms tried ' ..
      "%(at character 6, expected a month 1..12%): 2010%-01%-31 %(ISO 8601", err)
    assert.matches("Jan 31 2010, January 31, 2010, 31 Jan 2010", err)
    assert.matches("expected a day within the month", error_of(parse, "2010-02-29"))
    assert.matches("expected an hour 0..23", error_of(parse, "2010-01-31 24:00"))
    assert.matches("expected an hour 0..23", error_of(parse, "2010-01-31T"))
    assert.matches("expected a day 1..31", error_of(parse, "Jan 32 2010"))
    assert.matches("at character 18, expected a time zone", error_of(parse, "2010-01-31 13:00 tomorrow"))
    assert.matches("expected the end of the text", error_of(parse, "2010-01-31 x", "%Y-%m-%d"))
    assert.matches('"yesterday" is not a date', error_of(parse, "yesterday"))
    assert.matches('day and month are ambiguous here: give a format such as "%%m/%%d/%%Y" or "%%d/%%m/%%Y"',
      error_of(parse, "1/2/2000"))
    assert.matches('"2010%-01%-31" does not match the format "%%d/%%m/%%Y" %(at character 3, expected \'/\'%)',
      error_of(parse, "2010-01-31", "%d/%m/%Y"))
    assert.matches("expected an hour 1..12 with AM/PM", error_of(parse, "13:00 PM", "%H:%M %p"))
    assert.matches("a format directive", error_of(parse, "2010", "%Q"))
    assert.matches("^.-helpers.lua:%d+: parse_datetime: s: expected a string, got 5", helpers.error_at_caller(parse, 5))
    assert.matches("parse_datetime: format: expected a string, got table", error_of(parse, "2010-01-01", {}))
  end)
end)
