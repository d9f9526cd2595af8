-- wrk script for benches/wrk.sh: posts real support text, one message per request, each request
-- a new conversation, to the path wrk was started with (/v1/messages or /v1/classify).
--   env: WRK_MESSAGES  file of messages, one per line, already JSON-escaped (the script writes it)
--        WRK_TOKEN     a declared bridge's token (PERSONABOT__BRIDGES__BENCH__TOKEN)
local lines = {}
local path = os.getenv("WRK_MESSAGES")
local token = os.getenv("WRK_TOKEN") or ""
for line in io.lines(path) do
  if #line > 0 then lines[#lines + 1] = line end
end
if #lines == 0 then error("no messages in " .. tostring(path)) end

local thread_no = 0
function setup(thread)
  thread_no = thread_no + 1
  thread:set("id", thread_no)
end

-- /v1/classify takes only `text`; /v1/messages also the bridge's channel, conversation and user.
local classify = false
function init(args)
  classify = string.find(wrk.path, "classify", 1, true) ~= nil
end

local counter = 0
function request()
  counter = counter + 1
  local text = lines[(counter * 7919 + id * 104729) % #lines + 1]
  local conv = string.format("w%d-%d", id, counter)
  local body
  if classify then
    body = string.format('{"text":"%s"}', text)
  else
    body = string.format(
      '{"channel":"bench","conversation":"%s","user":"u%s","text":"%s"}', conv, conv, text)
  end
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("requests %d errors_status %d duration_us %d\n",
    summary.requests, summary.errors.status, summary.duration))
end
