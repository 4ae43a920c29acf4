-- The summary both wrk scripts print when the run ends, one line run.py reads.
function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests":%d,"seconds":%f,"non_2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
