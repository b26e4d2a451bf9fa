-- Shared by every bench/lua scenario script (loaded with dofile).
--
-- Counts responses per HTTP status in each wrk thread, and in done() writes one JSON
-- object (throughput, latency percentiles, socket errors, per-status counts) to the file
-- named by the BENCH_OUT environment variable, for bench/report.py.
--
-- Defining response() makes wrk parse headers and bodies of every response; every
-- scenario (healthz included) pays that same load-generator cost, so ratios stay fair.

statuses = {}

function count_status(status)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
end

function response(status, headers, body)
   count_status(status)
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local function json_string(s)
   return '"' .. tostring(s):gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
   end) .. '"'
end

function done(summary, latency, requests)
   local merged = {}
   for _, t in ipairs(threads) do
      local s = t:get("statuses")
      if s then
         for k, v in pairs(s) do
            merged[k] = (merged[k] or 0) + v
         end
      end
   end
   local parts = {}
   for k, v in pairs(merged) do
      table.insert(parts, json_string(k) .. ":" .. string.format("%d", v))
   end
   local e = summary.errors
   local out = {
      '"duration_us":' .. string.format("%d", summary.duration),
      '"requests":' .. string.format("%d", summary.requests),
      '"bytes":' .. string.format("%d", summary.bytes),
      '"errors":{"connect":' .. e.connect .. ',"read":' .. e.read .. ',"write":' .. e.write
         .. ',"status":' .. e.status .. ',"timeout":' .. e.timeout .. '}',
      '"statuses":{' .. table.concat(parts, ",") .. '}',
      '"latency_us":{"mean":' .. string.format("%.1f", latency.mean)
         .. ',"stdev":' .. string.format("%.1f", latency.stdev)
         .. ',"max":' .. string.format("%d", latency.max)
         .. ',"p50":' .. string.format("%d", latency:percentile(50))
         .. ',"p90":' .. string.format("%d", latency:percentile(90))
         .. ',"p99":' .. string.format("%d", latency:percentile(99))
         .. ',"p999":' .. string.format("%d", latency:percentile(99.9)) .. '}',
   }
   local path = os.getenv("BENCH_OUT")
   local json = "{" .. table.concat(out, ",") .. "}\n"
   if path and path ~= "" then
      local f = assert(io.open(path, "w"))
      f:write(json)
      f:close()
   else
      io.write(json)
   end
end
