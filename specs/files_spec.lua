-- Atomic saves clean up after killed saves (src/core/platform.c): a save removes the
-- temporary files (TARGET.tmp-XXXXXX) that earlier saves of the same target left when they
-- were killed, and nothing else.
local recur = require "recur"
local helpers = require "specs.helpers"

local shell = require "specs.shell"

local function listing(dir)
  local names = {}
  for name in shell.capture("ls -A " .. dir):gmatch("[^\n]+") do names[#names + 1] = name end
  table.sort(names)
  return names
end

local function temps_of(dir, base)
  local n = 0
  for _, name in ipairs(listing(dir)) do
    if name:find(base .. ".tmp-", 1, true) == 1 then n = n + 1 end
  end
  return n
end

-- a Lua script for a child interpreter of the same version that loads the same build of recur
local function child_script(path, body)
  local f = assert(io.open(path, "w"))
  f:write(shell.search_paths(), "\n", body)
  f:close()
end

local function touch(path, when) assert(shell.execute(string.format("touch -d '%s' %s", when, path))) end

describe("atomic saves clean up", function()
  it("a save removes its target's stale temporary files and nothing else", function()
    local dir = shell.make_dir()
    local path = dir .. "/model.safetensors"
    local stale = {"model.safetensors.tmp-Ab12Cd", "model.safetensors.tmp-zzzzzz"}
    local kept = {
      "model.safetensors.tmp-abc", -- not the naming pattern: 3 characters
      "model.safetensors.tmp-Ab_2Cd", -- not letters and digits
      "model.safetensors.tmp-Ab12Cd.bak",
      "xmodel.safetensors.tmp-Ab12Cd", -- other targets
      "other.safetensors.tmp-Ab12Cd",
      "model.safetensors.tmp-Newer1", -- newer than the save
      "model.safetensors.tmp-Locked", -- held by a save still running
    }
    for _, name in ipairs(stale) do touch(dir .. "/" .. name, "1 hour ago") end
    for _, name in ipairs(kept) do touch(dir .. "/" .. name, "1 hour ago") end
    touch(dir .. "/model.safetensors.tmp-Newer1", "1 hour")
    assert(shell.execute("mkdir " .. dir .. "/model.safetensors.tmp-Dir123"))
    kept[#kept + 1] = "model.safetensors.tmp-Dir123"
    -- a running save holds an exclusive lock on its temporary file: flock(1) plays one
    local locked = dir .. "/model.safetensors.tmp-Locked"
    local holder = shell.capture(string.format("flock -x %s sleep 30 >/dev/null 2>&1 & echo $!", locked)):match("%d+")
    local deadline = os.time() + 5
    while shell.execute("flock -n " .. locked .. " true") do
      assert(os.time() < deadline, "flock(1) did not take the lock")
    end

    recur.save(path, {w = recur.ones{3}})
    os.execute("kill " .. holder)

    local expected = {"model.safetensors"}
    for _, name in ipairs(kept) do expected[#expected + 1] = name end
    table.sort(expected)
    assert.are.same(expected, listing(dir))
    assert.are.same({1, 1, 1}, recur.load(path).w:totable())
    os.execute("rm -rf " .. dir)
  end)

  it("a save to a path without a directory cleans the current directory", function()
    local dir = shell.make_dir()
    touch(dir .. "/m.safetensors.tmp-Qw12Er", "1 minute ago")
    child_script(dir .. "/save.lua", 'require("recur").save("m.safetensors", {w = require("recur").ones{2}})\n')
    assert.is_true(shell.execute(string.format("cd %s && %s save.lua", dir, helpers.interpreter())))
    assert.are.same({"m.safetensors", "save.lua"}, listing(dir))
    os.execute("rm -rf " .. dir)
  end)

  it("two processes saving the same target at once never remove each other's temporary files", function()
    local dir, scripts = shell.make_dir(), shell.make_dir()
    local path = dir .. "/model.safetensors"
    local child = scripts .. "/save_often.lua"
    child_script(child, string.format([[
      local recur = require "recur"
      local model = recur.Linear{in_features = 1000, out_features = 250}
      for _ = 1, 12 do
        local ok, err = pcall(recur.save, %q, model)
        if not ok then io.stderr:write(err, "\n") os.exit(1) end
      end
    ]], path))
    local run = string.format("%s %s", helpers.interpreter(), child)
    local out = shell.capture(string.format("(%s & a=$!; %s & b=$!; wait $a && wait $b && echo both-ok) 2>&1", run, run))
    assert.are.equal("both-ok\n", out)
    assert.are.same({"model.safetensors"}, listing(dir))
    os.execute("rm -rf " .. dir .. " " .. scripts)
  end)

  it("saves killed (SIGKILL) in a loop leave the checkpoint and nothing else", function()
    local dir, scripts = shell.make_dir(), shell.make_dir()
    local path, started = dir .. "/model.safetensors", scripts .. "/started"
    local child = scripts .. "/save_forever.lua"
    child_script(child, string.format([[
      local recur = require "recur"
      local model = recur.Linear{in_features = 1000, out_features = 500}
      recur.save(%q, model)
      io.open(%q, "w"):close()
      while true do recur.save(%q, model) end
    ]], path, started, path))
    -- runs the child; once it saves in a loop, waits for one of its temporary files to appear
    -- (a busy loop on a shell glob) and kills it at once (the kill is a shell builtin, so it
    -- lands microseconds later, mid-write) or after a sleep of DELAY seconds (anywhere in a save)
    local round_script = [[
      rm -f %s; %s %s & pid=$!
      for _ in $(seq 6000); do [ -e %s ] && break; sleep 0.01; done
      for _ in $(seq 100000); do set -- %s.tmp-*; [ -e "$1" ] && break; done
      %s kill -9 $pid; wait $pid 2>/dev/null; [ -e %s ]
    ]]
    -- rounds go on until kills have landed mid-save twice (how often one does depends on the
    -- machine's speed, and sanitizers change it), at least 6 and at most 60 rounds
    local left_behind, round = 0, 0 -- rounds whose kill hit a save mid-write
    while round < 6 or (left_behind < 2 and round < 60) do
      round = round + 1
      local delay = round % 2 == 1 and "" or string.format("sleep %.3f;", 0.002 * (round % 6)) -- 0 to 10 ms
      assert.is_true(shell.execute(string.format(round_script, started, helpers.interpreter(), child, started,
        path, delay, started)), "the child never got to its saving loop")
      local temps = temps_of(dir, "model.safetensors")
      -- each save removed the files the kills before it left: at most this round's remains
      assert.is_true(temps <= 1, string.format("round %d: %d temporary files", round, temps))
      if temps == 1 then left_behind = left_behind + 1 end
      assert.are.same({500, 1000}, recur.load(path).weight:shape())
    end
    assert.is_true(left_behind > 0, string.format("no kill landed during a save in %d rounds: the loop tested nothing", round))
    recur.save(path, recur.Linear{in_features = 2, out_features = 2})
    assert.are.same({"model.safetensors"}, listing(dir))
    os.execute("rm -rf " .. dir .. " " .. scripts)
  end)
end)
