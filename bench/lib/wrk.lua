-- wrk script used by bench/run for every HTTP benchmark.
--   BENCH_PIPELINE=N  sends N requests back to back on each connection (1 = no pipelining)
-- At the end it prints one line "BENCH_RESULT {json}" with exact counts and latency
-- percentiles, so bench/run does not have to parse wrk's human-readable summary.
--
--   BENCH_COUNT_STATUS=1  also counts responses outside 200-299 ("non2xx" in the result);
--                      it costs a Lua call per response, so the benchmarks leave it off.
-- Latency percentiles are wrk's own (the figures `wrk --latency` prints). With pipelining,
-- wrk 4.1's coordinated-omission correction puts synthetic samples below the recorded
-- minimum, where its percentile function does not look, so high percentiles come out as 0:
-- bench/run reports those as "n/a" rather than a made-up number.
local depth = tonumber(os.getenv("BENCH_PIPELINE") or "1") or 1
local count_status = os.getenv("BENCH_COUNT_STATUS") == "1"
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local headers = {
      ["Accept"] = "text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7",
      ["Connection"] = "keep-alive",
   }
   pipelined = string.rep(wrk.format("GET", nil, headers), depth)
end

if count_status then
   non2xx = 0
   function response(status, headers, body)
      if status < 200 or status > 299 then
         non2xx = non2xx + 1
      end
   end
end

if depth > 1 then
   function request()
      return pipelined
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local bad = 0
   for _, t in ipairs(threads) do
      bad = bad + (tonumber(t:get("non2xx")) or 0)
   end
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d}}\n',
      summary.requests, summary.duration, summary.bytes, bad,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(99)))
end
