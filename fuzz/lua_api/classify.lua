--- The class of an error raised by a call of the fuzzer (a line run as chunk "=fuzz"):
-- "argument"  a clear argument error: "bad argument #n to 'f' (...)" from C, or
--             "f: what ..." naming the function, raised at the caller's line (fuzz:1:)
--             or with no position (C functions); also "training diverged ...", the
--             documented error of a loss or gradient that is not finite, at the caller's line;
-- "resource"  not enough memory;
-- "hostile"   the error of a hostile value's own metamethod, passed through;
-- "internal"  anything else: a runtime error inside recur ("attempt to ..."), an error
--             positioned inside recur's files, a message that names no function, a
--             stack overflow.
local MARK = require("hostile").MARK

return function(err)
  if type(err) ~= "string" then return "internal" end
  if err:find(MARK, 1, true) then return "hostile" end
  if err:find("not enough memory", 1, true) then return "resource" end
  local where, _, rest = err:match("^([^\n]-):(%d+): ()")
  local message = err
  if where then
    if where ~= "fuzz" then return "internal" end
    message = err:sub(rest)
  end
  if message:find("attempt to ", 1, true) or message:find("stack overflow", 1, true) then return "internal" end
  if message:match("^bad argument #%-?%d+ to '[^']+' %(.+%)$") then return "argument" end
  if where and message:find("^training diverged") then return "argument" end
  if message:match("^[%a_][%w_.:%[%]]*: %S") then return "argument" end
  return "internal"
end
