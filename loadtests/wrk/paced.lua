-- wrk script for loadtests.overload: requests from a file, either as fast as the connections allow
-- (closed loop, WRK_RATE unset) or paced to WRK_RATE requests/s in all (open loop as far as wrk
-- allows: each thread keeps a schedule of send slots that its connections take in turn, so the
-- offered rate does not fall when answers slow down, as long as a connection is free; a slot missed
-- by more than WRK_SLACK_MS is dropped, not sent late in a burst, and counted as "late").
--   WRK_LINES    one request per line: METHOD <TAB> ACCEPT <TAB> PATH [<TAB> JSON BODY]
--   WRK_RATE     requests/s over all threads (unset or 0: closed loop)
--   WRK_THREADS  the -t given to wrk (the rate is split between the threads)
--   WRK_SLACK_MS how far behind schedule a thread may run before it drops slots (default 50)
-- Every request carries a fresh random X-Forwarded-For address (the server runs with
-- VERIFY_TRUST_PROXY=1, so the per-address lookup budget never refuses the load generator).
-- response() counts the answers per second of CLOCK_MONOTONIC (the clock of Python's
-- time.monotonic()): 2xx, 503 (and how many of those lacked Retry-After) and anything else.
-- done() prints one JSON line, prefixed "WRK_JSON ", that loadtests.overload reads.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } paced_timespec;
int clock_gettime(int clk_id, paced_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("paced_timespec")

local function now_ms()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
   return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

local function split(line)
   local fields = {}
   for field in (line .. "\t"):gmatch("([^\t]*)\t") do fields[#fields + 1] = field end
   return fields
end

function init(args)
   lines = {}
   for line in io.lines(os.getenv("WRK_LINES")) do
      if #line > 0 then lines[#lines + 1] = split(line) end
   end
   math.randomseed(os.time() * 100 + id)
   index = math.random(#lines)
   rows = ""
   late = 0
   local rate = tonumber(os.getenv("WRK_RATE") or "0") or 0
   local nthreads = tonumber(os.getenv("WRK_THREADS") or "1") or 1
   if rate > 0 then interval = 1000 * nthreads / rate end
   slack = tonumber(os.getenv("WRK_SLACK_MS") or "50") or 50
end

-- The counts of the current second are plain globals and the finished seconds a string of JSON
-- rows: wrk 4.1's thread:get() copies numbers and strings but crashes on a table. A thread's clock
-- only moves forward, so a second once left is final.
local function roll()
   local second = math.floor(now_ms() / 1000)
   if second ~= c_second then
      if c_second ~= nil then
         rows = rows .. string.format("%s[%d, %d, %d, %d, %d, %d]", rows == "" and "" or ", ", c_second,
                                      c_sent, c_ok, c_shed, c_other, c_noretry)
      end
      c_second, c_sent, c_ok, c_shed, c_other, c_noretry = second, 0, 0, 0, 0, 0
   end
end

if (tonumber(os.getenv("WRK_RATE") or "0") or 0) > 0 then
   function delay()
      local now = now_ms()
      if next_slot == nil then
         next_slot = now
      else
         next_slot = next_slot + interval
      end
      if next_slot < now - slack then
         late = late + math.floor((now - next_slot) / interval)
         next_slot = now
      end
      local wait = next_slot - now
      if wait < 0 then wait = 0 end
      return math.floor(wait)
   end
end

function request()
   index = index % #lines + 1
   local r = lines[index]
   roll()
   c_sent = c_sent + 1
   local headers = {
      ["Accept"] = r[2],
      ["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255),
                                          math.random(1, 254)),
   }
   if r[1] == "POST" then
      headers["Content-Type"] = "application/json"
      return wrk.format("POST", r[3], headers, r[4])
   end
   return wrk.format(r[1], r[3], headers)
end

function response(status, headers, body)
   roll()
   if status >= 200 and status < 300 then
      c_ok = c_ok + 1
   elseif status == 503 then
      c_shed = c_shed + 1
      if headers["retry-after"] == nil and headers["Retry-After"] == nil then c_noretry = c_noretry + 1 end
   else
      c_other = c_other + 1
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local parts, dropped = {}, 0
   for _, thread in ipairs(threads) do
      dropped = dropped + (thread:get("late") or 0)
      local finished = thread:get("rows") or ""
      if finished ~= "" then parts[#parts + 1] = finished end
      local second = thread:get("c_second")
      if second ~= nil then
         parts[#parts + 1] = string.format("[%d, %d, %d, %d, %d, %d]", second, thread:get("c_sent"),
                                           thread:get("c_ok"), thread:get("c_shed"), thread:get("c_other"),
                                           thread:get("c_noretry"))
      end
   end
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "connect": %d, '
         .. '"read": %d, "write": %d, "status": %d, "timeout": %d, "late": %d, "buckets": [%s]}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.connect, e.read, e.write, e.status, e.timeout, dropped, table.concat(parts, ", ")))
end
