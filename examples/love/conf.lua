-- LÖVE configuration of the recur starter kit (see main.lua)
function love.conf(t)
  t.identity = "recur-starter"
  t.version = "11.4"
  t.window.title = "recur: guess the next move"
  t.window.width = 936 -- the arena (16 x 12 tiles of 36 pixels) and the panel
  t.window.height = 432
  t.modules.audio = false -- no sound: also keeps headless runs (Xvfb) quiet
  t.modules.sound = false
  t.modules.joystick = false
  t.modules.physics = false
end
