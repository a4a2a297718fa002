-- POST /v1/wallets/{id}/holds of 1.00 for another wallet of the data file (uniform pairs),
-- each request with its own Idempotency-Key and the held wallet's owner's token.
--
-- Data file: as transfer.lua's (its first line is read and ignored: pairs are uniform).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local ids, tokens, n

function init(args)
  local entries = common.init()
  table.remove(entries, 1)
  ids, tokens = {}, {}
  for i, entry in ipairs(entries) do ids[i], tokens[i] = entry[1], entry[2] end
  n = #ids
  assert(n >= 2, "hold.lua: too few wallets")
end

function request()
  local from = math.random(1, n)
  local to = (from - 1 + math.random(1, n - 1)) % n + 1
  local body = string.format('{"amount": "1.00", "to_wallet_id": %s}', ids[to])
  return wrk.format("POST", "/v1/wallets/" .. ids[from] .. "/holds", {
    ["Authorization"] = "Bearer " .. tokens[from],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = common.next_key(),
  }, body)
end
