-- Word-level vocabularies feed the same batch streams as characters.
local recur = require "recur"
local helpers = require "specs.helpers"
local error_of = helpers.error_of
local data = recur.data

describe("word-level text", function()
  it("tokenizes into words, punctuation and line breaks", function()
    assert.are.same({"Don't", ",", "said", "naïve", "Ann", "-", "Marie", ".", "\n", "x_1", "(", "2", ")", "'", "q"},
      data.tokenize("  Don't, said naïve Ann-Marie.\r\n\tx_1 (2) 'q"))
    assert.are.same({"a", "b"}, data.tokenize("A\nb", {newlines = false, lower = true}))
    assert.matches("tokenize: text: expected a string, got nil", helpers.error_at_caller(data.tokenize))
  end)

  it("builds a vocabulary by count with an unknown token, min_count and max_size", function()
    local text = "the cat sat on the mat . the cat ran ."
    local v = data.WordVocab{text = text, newlines = false}
    assert.are.same({"<unk>", "the", ".", "cat", "mat", "on", "ran", "sat"}, v.tokens)
    assert.are.equal(8, v:size())
    local common = data.WordVocab{text = text, min_count = 2, unknown = "UNK"}
    assert.are.same({"UNK", "the", ".", "cat"}, common.tokens)
    assert.are.same({2, 4, 1, 1, 1, 3}, common:encode("the cat sat on a ."):totable())
    assert.are.same({"<unk>", "the", "."}, data.WordVocab{text = text, max_size = 3}.tokens)
    assert.are.equal("the cat UNK UNK UNK.", common:decode(common:encode("the cat sat on a .")))
    assert.are.same({"<unk>", "b", "a"}, data.WordVocab{tokens = {"b", "a"}}.tokens)
    assert.matches("give exactly one of text, path and tokens", error_of(data.WordVocab, {text = "a", tokens = {}}))
    assert.matches("duplicate token \"a\"", error_of(data.WordVocab, {tokens = {"a", "a"}}))
    assert.matches("unknown option 'min'", error_of(data.WordVocab, {text = "a", min = 2}))
  end)

  it("decodes with spacing rules for punctuation and line breaks", function()
    local text = "Hello, world!\n(Quiet) please.\n"
    local v = data.WordVocab{text = text}
    assert.are.equal("Hello, world!\n(Quiet) please.\n", v:decode(v:encode(text)))
  end)

  it("streams a file into an IdBuffer that CharBatches cuts like characters", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    local lines = {}
    for i = 1, 30000 do lines[i] = "line " .. (i % 97) .. " says: hello, world." end
    local text = table.concat(lines, "\n") .. "\n"
    f:write(text)
    f:close()
    local from_file = data.WordVocab{path = path}
    local from_text = data.WordVocab{text = text}
    assert.are.same(from_text.tokens, from_file.tokens)
    local ids = from_file:encode_file(path)
    os.remove(path)
    assert.are.equal("uint8", ids:dtype())
    local expected = from_text:encode(text)
    assert.are.same(expected:totable(), ids:totable())
    local batches = data.CharBatches{data = ids, batch_size = 4, seq_len = 8, time_major = true}
    local x, y = batches:batch(1)
    assert.are.same({8, 4}, x:shape())
    assert.are.equal(expected[2], y:get(1, 1))
    assert.are.equal("line 1 says: hello, world.\nline", from_file:decode(ids:narrow(1, 1, 10)))
  end)
end)
