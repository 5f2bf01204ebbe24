-- POST one fixed JSON body with a bearer token, and print wrk's figures as one JSON line.
--
-- usage: KEYSTEAD_BENCH_TOKEN=... wrk -s post.lua URL -- BODY_FILE
-- The token comes from the environment, not argv, so it does not show in `ps`.
-- The request is built once per thread (no `request` function), so Lua costs nothing
-- per request; `done` runs once, after the run.

function init(args)
   local file = assert(io.open(args[1], "rb"))
   wrk.body = file:read("*a")
   file:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   local token = os.getenv("KEYSTEAD_BENCH_TOKEN")
   if token and token ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. token
   end
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
