-- wrk script: createMessage from user 1 to users 1..N in turn, as fast as the server takes them.
-- Each content is "t<µs of CLOCK_MONOTONIC> <seq>" so the receiver can measure delivery latency.
-- Usage: wrk -t1 -c32 -d10s -s bench/send.lua http://127.0.0.1:PORT/ -- N
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local now = ffi.new("bench_timespec")
local users = 200
local seq = 0
local headers = { ["Content-Type"] = "application/json" }
local query = '"mutation ($from: String, $to: String, $content: String) '
  .. '{ createMessage(senderId: $from, recipientId: $to, content: $content) '
  .. '{ success errors message { content senderId recipientId } } }"'

function init(args)
  users = tonumber(args[1])
end

function request()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now)
  local us = tonumber(now.tv_sec) * 1000000 + math.floor(tonumber(now.tv_nsec) / 1000)
  seq = seq + 1
  local body = string.format('{"query":%s,"variables":{"from":"1","to":"%d","content":"t%.0f %d"}}',
    query, seq % users + 1, us, seq)
  return wrk.format("POST", "/", headers, body)
end

-- `done` (the summary line run.py reads), from the file next to this one.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "summary.lua")
