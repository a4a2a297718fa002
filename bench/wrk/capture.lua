-- POST /v1/holds/{id}/captures of 0.01 from a random active hold of the data file, as its
-- recipient (who decides a hold with a recipient), each with its own Idempotency-Key. A
-- hold of 1.00 takes 100 such captures, more than a phase sends to any one of them.
--
-- Data file: one `hold_id token` a line, the token being the hold's recipient's.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local holds, tokens, n

function init(args)
  local entries = common.init()
  holds, tokens = {}, {}
  for i, entry in ipairs(entries) do holds[i], tokens[i] = entry[1], entry[2] end
  n = #holds
  assert(n >= 1, "capture.lua: no holds to capture")
end

function request()
  local i = math.random(1, n)
  return wrk.format("POST", "/v1/holds/" .. holds[i] .. "/captures", {
    ["Authorization"] = "Bearer " .. tokens[i],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = common.next_key(),
  }, '{"amount": "0.01"}')
end
