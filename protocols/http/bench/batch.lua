-- wrk script: POSTs one Event Hubs REST batch per request over keep-alive connections.
-- EVENTS events of EVENT_BYTES bytes each (environment variables, defaults 100 and 1024),
-- sent without a partition key, so each request lands on one partition chosen round robin.
local events = tonumber(os.getenv("EVENTS") or "100")
local size = tonumber(os.getenv("EVENT_BYTES") or "1024")

local items = {}
local payload = string.rep("x", size)
for i = 1, events do
  items[i] = '{"Body":"' .. payload .. '","UserProperties":{"seq":' .. i .. '}}'
end

wrk.method = "POST"
wrk.body = "[" .. table.concat(items, ",") .. "]"
wrk.headers["Content-Type"] = "application/vnd.microsoft.servicebus.json"

local statuses = {}

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local ok = summary.requests - summary.errors.status
  io.write(string.format("events/s: %.0f (%d events per request, %d B each)\n",
    ok * events / seconds, events, size))
  io.write(string.format("MB/s of event bodies: %.1f\n", ok * events * size / seconds / 1e6))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("latency p%s: %.2f ms\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("non-2xx responses: %d\n", summary.errors.status))
end
