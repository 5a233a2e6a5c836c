-- wrk script: POST one tool call per request to /v1/tool-calls (or an NDJSON batch with BATCH=N).
-- Usage: SECRET=ctk_... wrk -t2 -c64 -d20s -s scripts/wrk-post-call.lua http://127.0.0.1:8080
--
-- Load shapes:
--   (default)   every connection sends its next request as soon as it has its answer: the
--               most the server can take.
--   RATE=N      about N requests/s in all, at evenly spaced moments: each wrk thread keeps a
--               schedule of N/threads slots per second and hands each connection that is free
--               the next slot (it waits for it). A late answer does not push the schedule back,
--               and connections do not fall into step with each other's group commits.
--   PACE_MS=N   each connection waits N ms before each request (C connections offer about
--               C * 1000 / (N + latency) requests/s; answers arriving together make waves).
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } caretrail_timespec;
  int clock_gettime(int clock, caretrail_timespec *ts);
]]
local timespec = ffi.new("caretrail_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local secret = os.getenv("SECRET") or ""
local batch = tonumber(os.getenv("BATCH") or "1")
local call = '{"tenant_id":"hospital-1","conversation_id":"conv-bench","user_id":"usr-1","model":"claude-sonnet-4",' ..
  '"tool_name":"get_patient_record","purpose_of_use":"TREAT","patient_id":"PAT-%06d","arguments":{"patient_name":"Maria Garcia"}}'
local counter = 0
local pace = tonumber(os.getenv("PACE_MS") or "0")
local rate = tonumber(os.getenv("RATE") or "0")
local threads = tonumber(os.getenv("THREADS") or "2")

if rate > 0 then
  local interval = 1000 * threads / rate -- ms between this thread's slots
  local next_slot = nil
  delay = function()
    local now = now_ms()
    if next_slot == nil or next_slot < now - 1000 then next_slot = now end -- start, or more than a second behind
    next_slot = next_slot + interval
    return math.max(0, next_slot - now)
  end
elseif pace > 0 then
  delay = function() return pace end
end

request = function()
  local lines = {}
  for i = 1, batch do
    counter = counter + 1
    lines[i] = string.format(call, counter % 20000)
  end
  local headers = { ["Authorization"] = "Bearer " .. secret,
                    ["Content-Type"] = batch > 1 and "application/x-ndjson" or "application/json" }
  return wrk.format("POST", "/v1/tool-calls", headers, table.concat(lines, "\n"))
end
