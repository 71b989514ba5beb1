local recur = require "recur"
local helpers = require "specs.helpers"
local json = require "recur.json"
local error_of = helpers.error_of
local execute = require("specs.shell").execute

local function tmp(suffix)
  local p = os.tmpname()
  os.remove(p)
  return p .. (suffix or ".safetensors")
end

local function write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

-- a file from a header (table or raw JSON text) and raw data bytes
local function file_of(header, data, length_override)
  local text = type(header) == "string" and header or json.encode(header)
  return helpers.u64(length_override or #text) .. text .. (data or "")
end

local f32 = helpers.f32

local function model()
  return recur.Sequential{
    {"embed", recur.Embedding{num_embeddings = 7, embedding_dim = 3}},
    {"rnn", recur.GRU{input_size = 3, hidden_size = 5, num_layers = 2, dropout = 0.25}},
    {"decoder", recur.Linear{in_features = 5, out_features = 7}},
  }
end

describe("safetensors checkpoints", function()
  it("round-trip a model exactly, with metadata, and rebuild it from the file alone", function()
    local path = tmp()
    local m = model()
    recur.save(path, m, {epoch = 3, note = "ok", extra = {lr = 0.5}})
    local tensors, meta, names = recur.load(path)
    assert.are.same(m:parameter_names(), (function()
      local sorted = {}
      for i, n in ipairs(names) do sorted[i] = n end
      return sorted
    end)())
    for name, p in pairs(m:named_parameters()) do assert.are.same(p:totable(), tensors[name]:totable()) end
    assert.are.equal("3", meta.epoch)
    assert.are.equal("ok", meta.note)
    assert.are.same({lr = 0.5}, json.decode(meta.extra))
    assert.are.equal(recur._VERSION, meta["recur.version"])
    local rebuilt = recur.load_model(path)
    m:evaluate()
    rebuilt:evaluate()
    local x = {{1, 2, 3}, {4, 5, 6}}
    assert.are.same(m:forward(x):totable(), rebuilt:forward(x):totable())
    os.remove(path)
  end)

  it("load_model also rebuilds the model of a training checkpoint", function()
    local path = tmp()
    local m = model()
    recur.checkpoint.save_training(path, {model = m, optimizer = recur.optim.Adam{m}})
    local rebuilt = recur.load_model(path)
    assert.are.same(m:parameter_names(), rebuilt:parameter_names())
    for i, p in ipairs(m:parameters()) do assert.are.same(p:totable(), rebuilt:parameters()[i]:totable()) end
    os.remove(path)
  end)

  it("saves tables of tensors and named tables of modules with prefixes", function()
    local path = tmp()
    recur.save(path, {a = recur.tensor{1, 2}, b = {c = recur.ones{2, 2}}})
    local t = recur.load(path)
    assert.are.same({1, 2}, t.a:totable())
    assert.are.same({{1, 1}, {1, 1}}, t["b.c"]:totable())
    local named = {rnn = recur.LSTM{input_size = 2, hidden_size = 3}, decoder = recur.Linear{in_features = 3, out_features = 1}}
    recur.save(path, named)
    t = recur.load(path)
    assert.is_not_nil(t["rnn.weight_ih_l0"])
    assert.is_not_nil(t["decoder.bias"])
    local other = {rnn = recur.LSTM{input_size = 2, hidden_size = 3}, decoder = recur.Linear{in_features = 3, out_features = 1}}
    recur.checkpoint.load_state(other, t)
    assert.are.same(named.rnn:named_parameters().weight_hh_l0:totable(), other.rnn:named_parameters().weight_hh_l0:totable())
    os.remove(path)
  end)

  it("load_state reports missing, unexpected and mismatched names", function()
    local lstm = recur.LSTM{input_size = 2, hidden_size = 3}
    local state = lstm:state()
    local copy = {}
    for k, v in pairs(state) do copy[k] = v:clone() end
    copy.weight_hr_l0 = recur.zeros{1}
    copy.bias_ih_l0 = nil
    copy.weight_hh_l0 = recur.zeros{3, 3}
    local err = error_of(lstm.load_state, lstm, copy)
    assert.matches("missing: bias_ih_l0", err)
    assert.matches("unexpected: weight_hr_l0", err)
    assert.matches("mismatched: weight_hh_l0 %(file 3x3, model 12x3%)", err)
    local report = lstm:load_state(copy, {strict = false})
    assert.are.same({"weight_ih_l0", "bias_hh_l0"}, report.loaded)
    assert.are.same({"bias_ih_l0"}, report.missing)
  end)

  it("reads F16 and BF16 as float32", function()
    local path = tmp()
    local header = {
      h = {dtype = "F16", shape = {3}, data_offsets = {0, 6}},
      b = {dtype = "BF16", shape = {2}, data_offsets = {6, 10}},
    }
    -- F16: 1.0, -2.0, 2^-24 (smallest subnormal); BF16: 1.0, -0.5
    write(path, file_of(header, helpers.u16(0x3C00, 0xC000, 0x0001, 0x3F80, 0xBF00)))
    local t = recur.load(path)
    assert.are.same({1, -2, 2 ^ -24}, t.h:totable())
    assert.are.same({1, -0.5}, t.b:totable())
    os.remove(path)
  end)

  describe("rejects malformed files with a clear error", function()
    local good = {w = {dtype = "F32", shape = {2}, data_offsets = {0, 8}}}
    local cases = {
      {"shorter than the length field", "\1\0\0", "shorter than its 8%-byte header length"},
      {"header over 100 MB", helpers.u64(100000001) .. "{}", "over the 100000000%-byte limit"},
      {"header past the end", file_of("{}", "", 50), "runs past the end of the file"},
      {"header not an object", file_of("[1]"), "does not start with '{'"},
      {"invalid JSON", file_of('{"w":{"dtype":"F32",}}'), "invalid header JSON"},
      {"invalid UTF-8", file_of('{"\255":{}}'), "invalid UTF%-8"},
      {"unknown dtype", file_of({w = {dtype = "F33", shape = {1}, data_offsets = {0, 4}}}, f32(1)), "unknown dtype 'F33'"},
      {"unsupported dtype", file_of({w = {dtype = "I64", shape = {1}, data_offsets = {0, 8}}}, ("\0"):rep(8)), "dtype I64: recur reads F32, F16 and BF16"},
      {"shape and range disagree", file_of({w = {dtype = "F32", shape = {3}, data_offsets = {0, 8}}}, f32(1, 2)), "shape x dtype size is 12 bytes but data_offsets span 8"},
      {"a gap between tensors", file_of({a = {dtype = "F32", shape = {1}, data_offsets = {0, 4}}, b = {dtype = "F32", shape = {1}, data_offsets = {8, 12}}}, f32(1, 2, 3)), "start at 8, expected 4"},
      {"overlapping tensors", file_of({a = {dtype = "F32", shape = {2}, data_offsets = {0, 8}}, b = {dtype = "F32", shape = {1}, data_offsets = {4, 8}}}, f32(1, 2)), "start at 4, expected 8"},
      {"offsets past the data", file_of(good, f32(1)), "cover 8 bytes of data but the file has 4"},
      {"trailing bytes", file_of(good, f32(1, 2, 3)), "cover 8 bytes of data but the file has 12"},
      {"end before begin", file_of({w = {dtype = "F32", shape = {0}, data_offsets = {4, 0}}}, f32(1)), "end before they begin"},
      {"duplicate names", file_of('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32(1, 2)), "duplicate tensor name 'w'"},
      {"metadata value not a string", file_of({__metadata__ = {k = 1}}), "__metadata__ value of 'k' is not a string"},
      {"missing field", file_of({w = {dtype = "F32", shape = {1}}}), "lacks dtype, shape or data_offsets"},
      {"negative offset", file_of('{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}'), "expected a non%-negative integer"},
      {"too many dimensions", file_of({w = {dtype = "F32", shape = {1, 1, 1, 1, 1, 1, 1, 1, 1}, data_offsets = {0, 4}}}, f32(1)), "shape has more than 8 entries"},
      {"huge shape", file_of('{"w":{"dtype":"F32","shape":[4611686018427387903,4611686018427387903],"data_offsets":[0,4]}}', f32(1)), "its shape overflows"},
      {"truncated data", file_of(good, f32(1, 2)):sub(1, -3), "cover 8 bytes of data but the file has 6"},
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local path = tmp()
        write(path, case[2])
        local err = error_of(recur.load, path)
        os.remove(path)
        assert.matches(case[3], err)
        assert.matches("load: " .. path:gsub("%p", "%%%0"), err)
      end)
    end

    it("a directory, a missing file, a file without permission", function()
      assert.matches("cannot read /tmp: Is a directory", error_of(recur.load, "/tmp"))
      assert.matches("cannot open /nonexistent.safetensors: No such file", error_of(recur.load, "/nonexistent.safetensors"))
      assert.matches("cannot write /nonexistent/dir/x.safetensors", error_of(recur.save, "/nonexistent/dir/x.safetensors", recur.Linear{in_features = 1, out_features = 1}))
    end)

    it("hostile metadata: a model description that is not JSON, or not a model", function()
      local path = tmp()
      write(path, file_of({__metadata__ = {["recur.model"] = "{\"type\":"}}))
      assert.matches("recur.model metadata: unexpected end of text", error_of(recur.load_model, path))
      write(path, file_of({__metadata__ = {["recur.model"] = "{\"type\":\"Launch\"}"}}))
      assert.matches("from_config: unknown module type 'Launch'", error_of(recur.load_model, path))
      write(path, file_of({__metadata__ = {["recur.model"] = ("["):rep(100)}}))
      assert.matches("nesting deeper than 64", error_of(recur.load_model, path))
      os.remove(path)
    end)

    it("a destination that cannot be written (no permission, not a directory)", function()
      -- /proc refuses new files even to root, for whom permissions do not apply
      assert.matches("cannot write /proc/recur.safetensors", error_of(recur.save, "/proc/recur.safetensors", {a = recur.ones{1}}))
      assert.matches("cannot write /dev/null/x.safetensors", error_of(recur.save, "/dev/null/x.safetensors", {a = recur.ones{1}}))
    end)

    it("a valid file written by the reference layout loads (8-byte padded header)", function()
      local path = tmp()
      write(path, file_of('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}    ', f32(1.5, -2)))
      assert.are.same({1.5, -2}, recur.load(path).w:totable())
      os.remove(path)
    end)
  end)

  describe("PyTorch interop", function()
    it("a model trained in PyTorch loads into recur with the same outputs", function()
      local net = recur.load_model("specs/fixtures/interop/torch_model.safetensors")
      local io_ = recur.load("specs/fixtures/interop/torch_model_io.safetensors")
      helpers.assert_close(net:forward(io_.x), io_.y, 1e-5, "outputs")
    end)

    it("a model trained in recur gives PyTorch's outputs (committed, and live when torch is installed)", function()
      local net = recur.load_model("specs/fixtures/interop/recur_model.safetensors")
      local io_ = recur.load("specs/fixtures/interop/recur_model_io.safetensors")
      local torch_y = recur.load("specs/fixtures/interop/recur_model_torch_outputs.safetensors").y
      helpers.assert_close(net:forward(io_.x), io_.y, 1e-6, "recur outputs")
      helpers.assert_close(io_.y, torch_y, 1e-5, "torch outputs")
      if execute("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") then
        assert.is_true(execute("/usr/bin/python3 tools/safetensors_torch.py check " ..
          "specs/fixtures/interop/recur_model.safetensors specs/fixtures/interop/recur_model_io.safetensors >/dev/null"))
      end
    end)
  end)

  describe("atomic saves", function()
    -- runs a script in a child interpreter of the same Lua version, with the same module paths
    -- (so that it loads the same build of recur)
    local function run_child(script, prefix)
      local path = os.tmpname() .. ".lua"
      write(path, string.format("package.path = %q\npackage.cpath = %q\n", package.path, package.cpath) .. script)
      local ok = execute((prefix or "") .. helpers.interpreter() .. " " .. path .. " >/dev/null 2>&1")
      os.remove(path)
      return ok
    end

    it("a save killed mid-write (file size limit) leaves the previous checkpoint intact", function()
      local path = tmp()
      local small = recur.Linear{in_features = 4, out_features = 4}
      recur.save(path, small)
      local before = recur.load(path).weight:totable()
      -- the child writes a 4 MB model under a 64 KB file size limit: SIGXFSZ kills it mid-write
      local marker = tmp(".started")
      local ok = run_child(string.format([[
        local recur = require "recur"
        local model = recur.Linear{in_features = 1000, out_features = 1000}
        io.open(%q, "w"):close() -- it got as far as saving
        recur.save(%q, model)
      ]], marker, path), "ulimit -f 64; ")
      assert.is_falsy(ok)
      assert.is_truthy(io.open(marker), "the child did not reach the save")
      os.remove(marker)
      assert.are.same(before, recur.load(path).weight:totable())
      os.execute("rm -f " .. path .. ".tmp-*")
      os.remove(path)
    end)

    it("a save that runs out of space (EFBIG) is an error, cleans up, and keeps the previous file", function()
      local path, report = tmp(), tmp(".txt")
      recur.save(path, recur.Linear{in_features = 4, out_features = 4})
      local before = recur.load(path).weight:totable()
      -- SIGXFSZ ignored: the write returns EFBIG, as a full disk returns ENOSPC
      run_child(string.format([[
        local recur = require "recur"
        local ok, err = pcall(recur.save, %q, recur.Linear{in_features = 1000, out_features = 1000})
        local f = io.open(%q, "w")
        f:write(tostring(ok), "\n", tostring(err))
        f:close()
      ]], path, report), "trap '' XFSZ; ulimit -f 64; ")
      local out = recur.data.read_file(report)
      os.remove(report)
      assert.matches("^false\n", out)
      assert.matches("cannot write .* %(write failed: File too large%); the previous file, if any, is unchanged", out)
      assert.are.same(before, recur.load(path).weight:totable())
      local leftovers = io.popen("ls " .. path .. ".tmp-* 2>/dev/null | wc -l")
      assert.are.equal("0", leftovers:read("*l"))
      leftovers:close()
      os.remove(path)
    end)

    it("keeps the replaced file's permissions", function()
      local path = tmp()
      write(path, "old")
      os.execute("chmod 640 " .. path)
      recur.save(path, {a = recur.ones{1}})
      local p = io.popen("stat -c %a " .. path)
      assert.are.equal("640", p:read("*l"))
      p:close()
      os.remove(path)
    end)
  end)

  it("a training run resumes bit for bit from a checkpoint", function()
    local text = ("the quick brown fox jumps over the lazy dog. "):rep(40)
    local vocab = recur.data.vocab_of(text)
    local ids = vocab:encode(text)
    local function setup()
      local net = recur.Sequential{
        {"embed", recur.Embedding{num_embeddings = vocab:size(), embedding_dim = 4}},
        {"rnn", recur.LSTM{input_size = 4, hidden_size = 8, num_layers = 2, dropout = 0.3}},
        {"decoder", recur.Linear{in_features = 8, out_features = vocab:size()}},
      }
      local opt = recur.optim.Adam{net, lr = 0.01}
      local sched = recur.optim.StepLR{opt, step_size = 5, gamma = 0.5}
      local batches = recur.data.CharBatches{data = ids, batch_size = 4, seq_len = 10, time_major = true}
      return net, opt, sched, batches
    end
    local function train(steps, net, opt, sched, batches, history)
      local ce = recur.CrossEntropyLoss()
      for _ = 1, steps do
        local _, x, y = batches:epoch()()
        opt:zero_grad()
        history[#history + 1] = ce:forward(net:forward(x), y)
        net:backward(ce:backward())
        recur.clip_grad_norm(net, 1)
        opt:step()
        sched:step()
      end
    end
    recur.manual_seed(5)
    local net, opt, sched, batches = setup()
    local whole = {}
    train(20, net, opt, sched, batches, whole)

    recur.manual_seed(5)
    net, opt, sched, batches = setup()
    local first = {}
    train(10, net, opt, sched, batches, first)
    local path = tmp()
    recur.checkpoint.save_training(path, {model = net, optimizer = opt, schedule = sched, data = batches,
      iteration = 10, history = first})
    recur.manual_seed(999) -- fresh objects, different random state
    net, opt, sched, batches = setup()
    local info = recur.checkpoint.load_training(path, {model = net, optimizer = opt, schedule = sched, data = batches})
    assert.are.equal(10, info.iteration)
    local resumed = info.history
    train(10, net, opt, sched, batches, resumed)
    assert.are.same(whole, resumed)
    os.remove(path)
  end)
end)
