-- wrk script used by every HTTP benchmark in bench/ (see harness.py).
--
-- The request is configured through the environment, so one script serves every case:
--   BENCH_WRK_METHOD        GET (default) or POST
--   BENCH_WRK_BODY_FILE     file whose bytes are the request body (POST)
--   BENCH_WRK_CONTENT_TYPE  Content-Type of that body
--   BENCH_WRK_HEADERS       extra request headers, one "Name: value" per line (optional)
-- At the end it prints one line, "BENCH-RESULT {json}", that the harness parses.

local method = os.getenv("BENCH_WRK_METHOD")
if method and method ~= "" then
  wrk.method = method
end

local body_file = os.getenv("BENCH_WRK_BODY_FILE")
if body_file and body_file ~= "" then
  local fh = assert(io.open(body_file, "rb"))
  wrk.body = fh:read("*a")
  fh:close()
end

local content_type = os.getenv("BENCH_WRK_CONTENT_TYPE")
if content_type and content_type ~= "" then
  wrk.headers["Content-Type"] = content_type
end

local extra_headers = os.getenv("BENCH_WRK_HEADERS")
if extra_headers and extra_headers ~= "" then
  for line in extra_headers:gmatch("[^\n]+") do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then
      wrk.headers[name] = value
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH-RESULT {\"requests\": %d, \"duration_us\": %d, \"bytes\": %d, "
      .. "\"connect_errors\": %d, \"read_errors\": %d, \"write_errors\": %d, "
      .. "\"status_errors\": %d, \"timeouts\": %d, "
      .. "\"p50_us\": %d, \"p90_us\": %d, \"p99_us\": %d, \"max_us\": %d}\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
  ))
end
