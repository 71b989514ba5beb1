-- Writes the seed corpora of the fuzz harnesses (fuzz/corpus/<harness>/): valid files and
-- edge cases. Run from the repository root after `make`:
--   LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" lua5.4 tools/make_fuzz_corpus.lua
local recur = require "recur"
local helpers = require "specs.helpers"

local function write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

local function file_of(header, data)
  local text = type(header) == "string" and header or require("recur.json").encode(header)
  return helpers.u64(#text) .. text .. (data or "")
end

-- safetensors: files recur writes, F16/BF16, and malformed ones
local dir = "fuzz/corpus/safetensors/"
local tmp = os.tmpname()
recur.save(tmp, recur.LSTM{input_size = 2, hidden_size = 3, proj_size = 2}, {note = "seed"})
write(dir .. "lstm.safetensors", recur.data.read_file(tmp))
recur.save(tmp, {a = recur.tensor{1, 2}, ["b.c"] = recur.ones{2, 2}})
write(dir .. "table.safetensors", recur.data.read_file(tmp))
os.remove(tmp)
write(dir .. "f16_bf16.safetensors", file_of({h = {dtype = "F16", shape = {2}, data_offsets = {0, 4}},
  b = {dtype = "BF16", shape = {1}, data_offsets = {4, 6}}}, helpers.u16(0x3C00, 0xC000, 0x3F80)))
write(dir .. "escapes.safetensors", file_of('{"a\\u00e9\\"":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}',
  helpers.f32(1)))
write(dir .. "gap.safetensors", file_of({a = {dtype = "F32", shape = {1}, data_offsets = {0, 4}},
  b = {dtype = "F32", shape = {1}, data_offsets = {8, 12}}}, helpers.f32(1, 2, 3)))
write(dir .. "empty.safetensors", file_of("{}"))
write(dir .. "short", "\1\0")

-- header: 2 bytes of data length, then JSON
dir = "fuzz/corpus/header/"
write(dir .. "one", helpers.u16(8) .. '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}')
write(dir .. "meta", helpers.u16(0) .. '{"__metadata__":{"k":"v","x":"\\ud83d\\ude00"}}')
write(dir .. "two", helpers.u16(6) .. '{"a":{"dtype":"F16","shape":[1,1],"data_offsets":[0,2]},' ..
  '"b":{"dtype":"BF16","shape":[2],"data_offsets":[2,6]}}  ')

-- csv: columns a (numbers) and b (strings)
dir = "fuzz/corpus/csv/"
write(dir .. "plain.csv", "a,b\n1,x\n2.5,y\n-3e2,z\n")
write(dir .. "quoted.csv", 'b,"a"\r\n"he said ""hi""",1\r\n\r\n"multi\nline",2')
write(dir .. "ragged.csv", "a,b\n1\n2,3,4\n")

-- tensor: byte programs (0-9 open, 10-19 close, 20-29 string, 30-39 boolean, else number)
dir = "fuzz/corpus/tensor/"
write(dir .. "matrix", string.char(0, 100, 120, 10, 0, 130, 140, 10))
write(dir .. "ragged", string.char(0, 100, 10, 0, 120, 130, 10))
write(dir .. "deep", string.char(0, 0, 0, 100, 10, 10, 10))
write(dir .. "mixed", string.char(100, 25, 35, 0, 10))
print("wrote the seed corpora in fuzz/corpus")
