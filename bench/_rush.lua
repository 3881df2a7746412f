-- wrk script: POST to a path with a different bearer token per request (tokens from a file),
-- and print one JSON line with the totals and latency percentiles when done.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  path = args[2]
  nthreads = tonumber(args[3])
  idx = id
end

function request()
  idx = idx + nthreads
  local token = tokens[(idx % #tokens) + 1]
  return wrk.format("POST", path, {["Authorization"] = "Bearer " .. token, ["Content-Length"] = "0"}, nil)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nRESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "socket_errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
