-- GET one of the data file's paths with its token, picked at random for each request.
--
-- Data file: one `path token` a line (say `/v1/wallets/42 eyJ...`, the token being the
-- wallet owner's).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local paths, headers

function init(args)
  paths, headers = {}, {}
  for i, entry in ipairs(common.init()) do
    paths[i], headers[i] = entry[1], {["Authorization"] = "Bearer " .. entry[2]}
  end
  assert(#paths > 0, "get.lua: the data file is empty")
end

function request()
  local i = math.random(1, #paths)
  return wrk.format("GET", paths[i], headers[i])
end
