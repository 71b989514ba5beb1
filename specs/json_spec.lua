-- recur.json (private to recur.checkpoint): strict RFC 8259 reading and writing.
local json = require "recur.json"
local helpers = require "specs.helpers"
local error_of = helpers.error_of

local function decodes(text, expected)
  local v = json.decode(text)
  assert.are.same(expected, v)
  return v
end

local function rejects(text, reason)
  local err = error_of(json.decode, text)
  assert.matches("^json: " .. reason, err)
end

describe("json.decode", function()
  it("reads numbers by the RFC 8259 grammar, integers as integers", function()
    decodes("0", 0)
    decodes("-0", 0)
    decodes("12", 12)
    decodes("-3.25", -3.25)
    decodes("1e3", 1000)
    decodes("2.5E-1", 0.25)
    decodes("1E+2", 100)
    if math.type then
      assert.are.equal("integer", math.type(json.decode("42")))
      assert.are.equal("float", math.type(json.decode("42.0")))
      assert.are.equal("float", math.type(json.decode("12345678901234567890"))) -- beyond 2^63
    end
    for _, bad in ipairs{"01", "-01", "00", "1.", "-", "+1", ".5", "1e", "1e+", "1.e3", "0x10", "1_000", "-.5"} do
      assert.has_error(function() json.decode(bad) end)
    end
    rejects("01", "leading zero")
    rejects("1.", "no digit after the decimal point")
    rejects("1e", "no digit in the exponent")
    rejects("1e999", "number out of range")
    rejects("+1", "unexpected '%+'")
  end)

  it("reads strings: escapes, surrogate pairs, raw UTF-8", function()
    decodes([["a\"b\\c\/d\b\f\n\r\t"]], "a\"b\\c/d\b\f\n\r\t")
    decodes([["\u0041\u00e9\u20ac"]], "A\195\169\226\130\172")
    decodes([["\ud83d\ude00"]], "\240\159\152\128")
    decodes('"\195\169t\195\169 \240\159\152\128"', "\195\169t\195\169 \240\159\152\128")
    decodes('"\127"', "\127")
    rejects([["\ud83d"]], "unpaired surrogate")
    rejects([["\ud83dx"]], "unpaired surrogate")
    rejects([["\ude00"]], "unpaired surrogate")
    rejects([["\ud83d\u0041"]], "unpaired surrogate")
    rejects([["\x41"]], "bad escape")
    rejects([["\u12"]], "bad \\u escape")
    rejects('"a\tb"', "control character in a string")
    rejects('"a\0b"', "control character in a string")
    rejects('"abc', "unterminated string")
  end)

  it("rejects invalid UTF-8: stray bytes, overlong forms, surrogates, beyond U+10FFFF, truncation", function()
    for _, bytes in ipairs{"\255", "\128", "\192\128", "\193\191", "\224\128\128", "\237\160\128", "\244\144\128\128",
      "\245\128\128\128", "\226\130", "\240\159\152"} do
      rejects('"' .. bytes .. '"', "invalid UTF%-8")
    end
  end)

  it("null, true, false; arrays and objects, [] and {} kept apart", function()
    assert.are.equal(json.null, json.decode("null"))
    assert.are.equal(true, json.decode("true"))
    assert.are.equal(false, json.decode(" false "))
    local a = json.decode("[1, null, 3]")
    assert.are.equal(3, #a)
    assert.are.equal(json.null, a[2])
    assert.are.equal("[]", json.encode(json.decode("[]")))
    assert.are.equal("{}", json.encode(json.decode("{}")))
    assert.are.same({a = {b = {1, 2}}}, json.decode('{"a": {"b": [1, 2]}}'))
    rejects("nul", "unexpected 'n'")
    rejects("True", "unexpected 'T'")
    rejects("truex", "unexpected 't'")
  end)

  it("rejects malformed documents", function()
    rejects("", "unexpected end of text")
    rejects("   ", "unexpected end of text")
    rejects("[1,]", "unexpected ']'")
    rejects("[1 2]", "expected ',' or ']'")
    rejects("{a: 1}", "expected a key")
    rejects("{'a': 1}", "expected a key")
    rejects('{"a" 1}', "expected ':'")
    rejects('{"a": 1,}', "expected a key")
    rejects('{"a": 1, "a": 2}', "duplicate key 'a'")
    rejects("[1] [2]", "text after the value")
    rejects("\f1", "unexpected")
    rejects("NaN", "unexpected 'N'")
    rejects("[Infinity]", "unexpected 'I'")
    rejects(("["):rep(65) .. ("]"):rep(65), "nesting deeper than 64")
    assert.are.equal(64, select(2, json.encode(json.decode(("["):rep(64) .. ("]"):rep(64))):gsub("%[", "")))
    assert.matches("json: expected a string, got number", error_of(json.decode, 5))
  end)

  it("reads NaN and infinities only when allowed, as Python's json writes them", function()
    local v = json.decode("[NaN, Infinity, -Infinity]", {allow_nan = true})
    assert.is_true(v[1] ~= v[1])
    assert.are.equal(math.huge, v[2])
    assert.are.equal(-math.huge, v[3])
  end)
end)

describe("json.encode", function()
  it("writes what decode reads back, objects with sorted keys", function()
    local value = {b = {1, 2.5, "x"}, a = true, c = {d = json.null}, e = "\195\169\n\"", f = -7}
    local text = json.encode(value)
    assert.are.equal('{"a":true,"b":[1,2.5,"x"],"c":{"d":null},"e":"\195\169\\n\\"","f":-7}', text)
    assert.are.same(value, json.decode(text))
    assert.are.equal("{}", json.encode({}))
    assert.are.equal("[]", json.encode(json.array()))
    assert.are.equal('"\\u0001"', json.encode("\1"))
    assert.are.equal("0.10000000000000001", json.encode(0.1))
    assert.are.equal(0.1, json.decode(json.encode(0.1)))
  end)

  it("refuses what decode would refuse, naming the place", function()
    local cycle = {}
    cycle.self = cycle
    assert.matches("^json: %$.self: the table contains itself", error_of(json.encode, cycle))
    assert.matches("^json: %$.loss: NaN is not a JSON number", error_of(json.encode, {loss = 0 / 0}))
    assert.matches("^json: %$%[2%]: inf is not a JSON number", error_of(json.encode, {1, math.huge}))
    assert.matches("^json: %$.k: the string is not valid UTF%-8 %(byte 2%)", error_of(json.encode, {k = "a\255"}))
    assert.matches("not valid UTF%-8", error_of(json.encode, {["\255"] = 1}))
    assert.matches("object keys must be strings, got number", error_of(json.encode, {1, 2, x = 3}))
    assert.matches("cannot encode a function", error_of(json.encode, {f = print}))
    assert.matches("cannot encode a recur.Tensor", error_of(json.encode, {require("recur").zeros{1}}))
    local deep = {}
    for _ = 1, 70 do deep = {deep} end
    assert.matches("nested deeper than 64", error_of(json.encode, deep))
  end)

  it("writes NaN and infinities when allowed, and reads them back", function()
    local text = json.encode({a = 0 / 0, b = math.huge, c = -math.huge}, {allow_nan = true})
    assert.are.equal('{"a":NaN,"b":Infinity,"c":-Infinity}', text)
    local v = json.decode(text, {allow_nan = true})
    assert.is_true(v.a ~= v.a and v.b == math.huge and v.c == -math.huge)
  end)
end)
