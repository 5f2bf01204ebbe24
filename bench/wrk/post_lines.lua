-- POST JSON bodies taken in turn from a file of one body per line, and print wrk's figures.
--
-- usage: wrk -s post_lines.lua URL -- BODIES_FILE
-- For logins as many different users: the server takes attempts at one name one at a time,
-- so one user's logins would measure that queue, not Argon2. Each thread starts at its own
-- line; `request` costs a table lookup per request, nothing next to a login.

local bodies = {}
local next_body = 1
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("offset", threads)
end

function init(args)
   for line in io.lines(args[1]) do
      if line ~= "" then
         bodies[#bodies + 1] = line
      end
   end
   next_body = (tonumber(offset) or 1) % #bodies + 1
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local body = bodies[next_body]
   next_body = next_body % #bodies + 1
   return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, '
         .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %.1f, "p90_us": %.1f, '
         .. '"p99_us": %.1f, "max_us": %.1f, "mean_us": %.1f}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
      e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean
   ))
end
