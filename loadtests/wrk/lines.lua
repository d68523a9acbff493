-- wrk script for loadtests.bench_http: every request takes the next line of WRK_LINES (each
-- thread starts at its own offset) and a fresh random X-Forwarded-For address, so the service's
-- per-address lookup budget never throttles the load generator (the server runs with
-- VERIFY_TRUST_PROXY=1; the peers ignore the header).
--   WRK_LINES   file with one request per line: a path (GET) or a JSON body (POST)
--   WRK_METHOD  GET (default) or POST (then WRK_PATH is the path, default /api/v1/lookup)
--   WRK_ACCEPT  the Accept header (default application/json)
-- done() prints one JSON line (prefixed "WRK_JSON ") that bench_http reads.

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

function init(args)
   lines = {}
   for line in io.lines(os.getenv("WRK_LINES")) do
      if #line > 0 then lines[#lines + 1] = line end
   end
   method = os.getenv("WRK_METHOD") or "GET"
   post_path = os.getenv("WRK_PATH") or "/api/v1/lookup"
   accept = os.getenv("WRK_ACCEPT") or "application/json"
   math.randomseed(os.time() * 100 + id)
   index = math.random(#lines)
end

function request()
   index = index % #lines + 1
   local headers = {
      ["Accept"] = accept,
      ["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255),
                                          math.random(1, 254)),
   }
   if method == "POST" then
      headers["Content-Type"] = "application/json"
      return wrk.format("POST", post_path, headers, lines[index])
   end
   return wrk.format("GET", lines[index], headers)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "connect": %d, '
         .. '"read": %d, "write": %d, "status": %d, "timeout": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.connect, e.read, e.write, e.status, e.timeout))
end
