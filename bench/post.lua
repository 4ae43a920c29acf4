-- wrk script: POST one fixed JSON body (read from the file given after `--`), print a JSON summary.
-- Usage: wrk -t1 -c32 -d10s -s bench/post.lua http://127.0.0.1:PORT/ -- body.json
function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  wrk.headers["Content-Type"] = "application/json"
  file:close()
end

-- `done` (the summary line run.py reads), from the file next to this one.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "summary.lua")
