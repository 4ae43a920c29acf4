-- wrk script: POST one fixed JSON body (read from the file given after `--`), print a JSON summary.
-- Usage: wrk -t1 -c32 -d10s -s bench/post.lua http://127.0.0.1:PORT/ -- body.json
function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  wrk.headers["Content-Type"] = "application/json"
  file:close()
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests":%d,"seconds":%f,"non_2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
