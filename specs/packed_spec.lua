-- The products on recur's packed kernel (src/core/packed.c): the recurrent steps' with W_hh
-- packed once per call, and a whole sequence's input projection with W_ih packed, give the
-- results of the BLAS (RECUR_PACKED_GEMM=0) within float tolerance, in every place a pass
-- packs: the forward into a gradient buffer (W_ih, then W_hh), the backward into its dL/dx
-- buffer, the reverse direction of a bidirectional layer into grad_c (two lanes) or the
-- forward direction's gates (one lane); panels and row tiles with tails, K over one block,
-- rows leaving (lengths), steps that no row takes part in, recurrent dropout, a projection,
-- row groups on two threads, input projections over several row blocks.
local recur = require "recur"
local helpers = require "specs.helpers"

-- the two products sum in another order: a few ulp apart at these sizes
local TOL = 1e-5

local CASES = {
  {"LSTM tails: 80 gate columns, 20 hidden, 7 rows", 1, "LSTM", 6, 7, "-", "{input_size = 7, hidden_size = 20}"},
  {"GRU with K over a block (300, and 900 backward)", 1, "GRU", 3, 13, "-", "{input_size = 7, hidden_size = 300}"},
  {"bidirectional LSTM, one lane", 1, "LSTM", 6, 7, "-", "{input_size = 7, hidden_size = 20, bidirectional = true}"},
  {"bidirectional GRU, two lanes", 2, "GRU", 6, 7, "-", "{input_size = 7, hidden_size = 20, bidirectional = true}"},
  {"LSTM with a projection", 1, "LSTM", 3, 9, "-", "{input_size = 7, hidden_size = 300, proj_size = 5}"},
  {"RNN with lengths and recurrent dropout", 1, "RNN", 6, 8, "6,6,5,4,4,2,2,1",
   "{input_size = 7, hidden_size = 33, num_layers = 2, recurrent_dropout = 0.3, dropout = 0.2}"},
  {"GRU with steps no row takes part in (every length below T)", 1, "GRU", 6, 7, "4,3,3,2,1,1,1",
   "{input_size = 7, hidden_size = 20}"},
  {"LSTM in row groups on two threads", 2, "LSTM", 4, 16, "-", "{input_size = 7, hidden_size = 40, num_layers = 2}"},
  {"LSTM input projection over a row block, with a tail, K over a block", 1, "LSTM", 8, 13, "-",
   "{input_size = 300, hidden_size = 20}"},
  {"GRU input projection with b_ih in its tiles, over a row block", 1, "GRU", 20, 10, "-",
   "{input_size = 7, hidden_size = 20, num_layers = 2}"},
}

local function run(packed, case, blas_threads)
  local path = os.tmpname()
  local args = {}
  for i = 2, #case do args[#args + 1] = string.format("%q", case[i]) end
  local paths = string.format("package.path = %q package.cpath = %q", package.path, package.cpath)
  local command = string.format("OPENBLAS_NUM_THREADS=%d RECUR_PACKED_GEMM=%s %s -e '%s' specs/packed_run.lua %s %s 2>&1",
    blas_threads or 1, packed and "1" or "0", helpers.interpreter(), paths, path, table.concat(args, " "))
  local p = io.popen(command)
  local out = p:read("*a")
  p:close()
  local ok, tensors, meta = pcall(recur.checkpoint.load, path)
  os.remove(path)
  assert(ok, "packed_run.lua failed: " .. out .. tostring(tensors))
  return tensors, meta
end

describe("packed recurrent products", function()
  local kernel = recur.config().packed_gemm

  it("recur.config() names the kernel: avx2 on x86-64 with AVX2 and FMA, none elsewhere", function()
    assert.is_true(kernel == "avx2" or kernel == "none")
    local _, meta = run(false, CASES[1])
    assert.are.equal("none", meta.packed_gemm) -- RECUR_PACKED_GEMM=0 turns it off
  end)

  it("with OpenBLAS on two threads (no set_num_threads) the steps' products stay with it", function()
    if kernel == "none" or recur.config().blas ~= "openblas" then
      return pending("needs the packed kernel and OpenBLAS")
    end
    local case = {"", "0", "LSTM", 6, 12, "-", "{input_size = 7, hidden_size = 40}"}
    local blas, packed = run(false, case, 2), run(true, case, 2)
    for _, name in ipairs{"y", "dx", "dh0", "gradients"} do
      assert.is_true(helpers.same_bits(packed[name], blas[name]), name .. " differs: the packed kernel ran")
    end
  end)

  for _, case in ipairs(CASES) do
    it(case[1] .. ": the BLAS's results within float tolerance", function()
      if kernel == "none" then return pending("this CPU has no packed kernel") end
      local blas, blas_meta = run(false, case)
      local packed, packed_meta = run(true, case)
      assert.are.equal("none", blas_meta.packed_gemm)
      assert.are.equal(kernel, packed_meta.packed_gemm)
      local differ = false
      for _, name in ipairs{"y", "dx", "dh0", "gradients"} do
        helpers.assert_close(packed[name], blas[name], TOL, name)
        differ = differ or not helpers.same_bits(packed[name], blas[name])
      end
      -- the products really ran packed: the BLAS rounds differently somewhere
      assert.is_true(differ, "packed and BLAS runs gave the same bits: was W_hh packed?")
    end)
  end
end)
