-- What the bench's wrk scripts share: the data file, the pacing, the status counts and the
-- result file. A script loads it with `dofile` and gets the helpers below; the wrk hooks
-- it defines (setup, delay, response, done) are globals, as wrk wants them.
--
-- wrk loads a script once in its main Lua state (which runs setup() and done()) and once
-- in each thread's own state (init(), request(), response(), delay()); the states share
-- no variables. setup() hands each thread its number, done() reads every thread's counts
-- back with thread:get(). Settings come from the environment, because the main state never
-- sees the script's arguments and wrk decides whether to call delay() at all when it first
-- loads the script:
--   BENCH_WRK_DATA      the data file: one entry a line, fields separated by spaces
--   BENCH_WRK_OUT       where done() writes its JSON result
--   BENCH_WRK_INTERVAL_MS  pace: each thread sends one request this often (unset: closed loop)
--   BENCH_WRK_EXPECT    the status every answer should have (a few others are kept as samples)
--   BENCH_WRK_KEYS      the Idempotency-Key prefix, unique to the run and phase
--   BENCH_WRK_SEED      seeds each thread's random numbers (with the thread's number)

local M = {}

-- Unexpected answers kept per thread, and how much of each body.
local MAX_SAMPLES = 3
local SAMPLE_CHARS = 300

local threads = {}
local expect = tonumber(os.getenv("BENCH_WRK_EXPECT") or "200")

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_number", #threads)
end

-- Per thread: the entries of the data file, answers by status, a few unexpected ones.
function M.init()
  statuses, samples, sent = {}, {}, 0
  math.randomseed(tonumber(os.getenv("BENCH_WRK_SEED") or "0") * 1000 + thread_number)
  local entries, path = {}, assert(os.getenv("BENCH_WRK_DATA"), "BENCH_WRK_DATA is not set")
  for line in io.lines(path) do
    local fields = {}
    for field in line:gmatch("%S+") do fields[#fields + 1] = field end
    entries[#entries + 1] = fields
  end
  return entries
end

-- A fresh Idempotency-Key: the run's and phase's prefix, the thread, a counter.
function M.next_key()
  sent = sent + 1
  return os.getenv("BENCH_WRK_KEYS") .. "-" .. thread_number .. "-" .. sent
end

-- Pacing: each thread sends one request every BENCH_WRK_INTERVAL_MS on an absolute
-- schedule (slots interval apart, from a random offset so threads do not send in step).
-- delay() runs before each request of a connection and returns the time to that
-- connection's slot, so the rate offered is exact, whatever the latency, as long as a
-- connection is free for each slot; a thread that falls behind (every connection waiting
-- for an answer) sends as soon as one is free until it has caught up, as arrivals that do
-- not wait for the service would. The clock is CLOCK_MONOTONIC through LuaJIT's FFI (wrk
-- embeds LuaJIT; plain Lua has no millisecond clock).
local interval_ms = tonumber(os.getenv("BENCH_WRK_INTERVAL_MS") or "")
if interval_ms and interval_ms > 0 then
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clock, bench_timespec *now);
  ]]
  local CLOCK_MONOTONIC = 1
  local clock = ffi.new("bench_timespec")
  local next_slot

  local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
    return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
  end

  function delay()
    local now = now_ms()
    next_slot = next_slot or now + math.random() * interval_ms
    local wait = next_slot - now
    next_slot = next_slot + interval_ms
    return wait > 0 and math.floor(wait) or 0
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= expect and #samples < MAX_SAMPLES then
    samples[#samples + 1] = status .. " " .. (body or ""):sub(1, SAMPLE_CHARS)
  end
end

-- A JSON string: control characters, quotes and backslashes as \u escapes.
local function quoted(text)
  return '"' .. text:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local total, samples_out = {}, {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
    for _, sample in ipairs(thread:get("samples")) do samples_out[#samples_out + 1] = quoted(sample) end
  end
  local status_out = {}
  for status, count in pairs(total) do status_out[#status_out + 1] = string.format('"%d": %d', status, count) end
  local e = summary.errors
  local out = assert(io.open(assert(os.getenv("BENCH_WRK_OUT"), "BENCH_WRK_OUT is not set"), "w"))
  -- wrk's latencies are microseconds, from the moment a request is written (after any delay).
  out:write(string.format(
    '{"requests": %d, "duration_s": %.6f, "latency_ms": {"50": %.3f, "90": %.3f, "99": %.3f, ' ..
    '"max": %.3f, "mean": %.3f}, "status": {%s}, "errors": {"connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d}, "samples": [%s]}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    latency.mean / 1000, table.concat(status_out, ", "), e.connect, e.read, e.write, e.timeout,
    table.concat(samples_out, ", ")))
  out:close()
end

return M
