-- wrk script: POST one tool call per request to /v1/tool-calls (or an NDJSON batch with BATCH=N).
-- Usage: SECRET=ctk_... wrk -t2 -c64 -d20s -s scripts/wrk-post-call.lua http://127.0.0.1:8080
-- PACE_MS=N makes each connection wait N ms before each request, so that C connections offer
-- about C * 1000 / (N + latency) requests/s: a fixed, moderate load for measuring latency.
local secret = os.getenv("SECRET") or ""
local batch = tonumber(os.getenv("BATCH") or "1")
local call = '{"tenant_id":"hospital-1","conversation_id":"conv-bench","user_id":"usr-1","model":"claude-sonnet-4",' ..
  '"tool_name":"get_patient_record","purpose_of_use":"TREAT","patient_id":"PAT-%06d","arguments":{"patient_name":"Maria Garcia"}}'
local counter = 0
local pace = tonumber(os.getenv("PACE_MS") or "0")
if pace > 0 then
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
