-- POST /v1/transfers between the data file's wallets, each request with its own
-- Idempotency-Key and its sender's token (the API checks that the sender is the caller).
--
-- Data file: a first line `pattern hot_wallets hot_share`, then one `wallet_id token` a
-- line, the token being the wallet owner's. Patterns:
--   uniform  random distinct pairs;
--   hot      hot_share of the transfers have one end among the first hot_wallets wallets
--            (sending or receiving, even odds), the rest are uniform pairs outside them;
--   single   every transfer leaves the first wallet, to a random other one.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

-- Amounts are 0.01 to 0.09: no transfer ever fails for want of funds.
local MAX_CENTS = 9

local pattern, hot, hot_share, ids, tokens, n

function init(args)
  local entries = common.init()
  local head = table.remove(entries, 1)
  pattern, hot, hot_share = head[1], tonumber(head[2]), tonumber(head[3])
  ids, tokens = {}, {}
  for i, entry in ipairs(entries) do ids[i], tokens[i] = entry[1], entry[2] end
  n = #ids
  assert(n >= 2 and (pattern ~= "hot" or n > hot), "transfer.lua: too few wallets for " .. pattern)
end

-- Sender and recipient indexes, never equal.
local function pair()
  if pattern == "single" then
    return 1, math.random(2, n)
  end
  if pattern == "hot" and math.random() < hot_share then
    local one, other = math.random(1, hot), hot + math.random(1, n - hot)
    if math.random() < 0.5 then return one, other end
    return other, one
  end
  local sender = math.random(1, n)
  return sender, (sender - 1 + math.random(1, n - 1)) % n + 1
end

function request()
  local from, to = pair()
  local body = string.format('{"from_wallet_id": %s, "to_wallet_id": %s, "amount": "0.0%d"}',
                             ids[from], ids[to], math.random(1, MAX_CENTS))
  return wrk.format("POST", "/v1/transfers", {
    ["Authorization"] = "Bearer " .. tokens[from],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = common.next_key(),
  }, body)
end
