//! The Lua scripts: each is one atomic Redis step.
//!
//! Scripts that touch a queue or another shard's keys (claim, report, release, and the
//! task push in `APPLY`) build those key names inside the script; that is legal on a
//! single Redis (and on Sentinel) but not on Redis Cluster, where queues would have to
//! become per-shard lists. Everything about one execution stays in one slot.

/// Pushes `ARGV` items onto a list in chunks (Lua's `unpack` has a stack limit).
const HELPERS: &str = r#"
local function push_all(cmd, key, items)
  local n = #items
  local i = 1
  while i <= n do
    local j = math.min(i + 999, n)
    redis.call(cmd, key, unpack(items, i, j))
    i = j + 1
  end
end
local function ring(bell)
  redis.call('RPUSH', bell, '1')
  redis.call('LTRIM', bell, 0, 0)
end
"#;

/// Creates a state machine, or says it exists (same or different).
/// KEYS: sm hash, sm zset, definition. ARGV: name, arn, definition, role, type, created_ms, sha.
pub const CREATE_STATE_MACHINE: &str = r#"
local cur = redis.call('HMGET', KEYS[1], 'sha', 'role', 'type', 'created')
if cur[1] then
  if cur[1] == ARGV[7] and cur[2] == ARGV[4] and cur[3] == ARGV[5] then return {'same', cur[4]} end
  return {'exists', cur[4]}
end
redis.call('SET', KEYS[3], ARGV[3])
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'arn', ARGV[2], 'def', ARGV[3], 'role', ARGV[4], 'type', ARGV[5], 'created', ARGV[6], 'sha', ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[2])
return {'created', ARGV[6]}
"#;

/// Starts an execution (idempotent on name and input while it runs).
/// KEYS: exec hash, inbox, shard bell, executions zset, sm hash.
/// ARGV: exec arn, name, input, start_ms, token prefix, inbox entry, state machine arn.
pub fn start_execution() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local sm = redis.call('HMGET', KEYS[5], 'sha', 'role', 'name')
if not sm[1] then return {'nosm'} end
local cur = redis.call('HMGET', KEYS[1], 'input', 'start', 'status')
if cur[2] then
  if cur[1] == ARGV[3] and cur[3] == 'RUNNING' then return {'same', cur[2]} end
  return {'exists', cur[2]}
end
redis.call('HSET', KEYS[1], 'arn', ARGV[1], 'name', ARGV[2], 'input', ARGV[3], 'start', ARGV[4],
  'tp', ARGV[5], 'status', 'RUNNING', 'ver', 0, 'def', sm[1], 'role', sm[2], 'smname', sm[3],
  'sm', ARGV[7])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[6])
ring(KEYS[3])
return {'created', ARGV[4]}
"#
    )
}

/// Queues a StopExecution for a running execution.
/// KEYS: exec hash, inbox, shard bell. ARGV: inbox entry.
pub fn stop_execution() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'none' end
if st ~= 'RUNNING' then return st end
redis.call('RPUSH', KEYS[2], ARGV[1])
ring(KEYS[3])
return 'queued'
"#
    )
}

/// Reports task results: each pending token's event goes to its shard inbox and the
/// task leaves the pending table (so a timeout racing it finds nothing). A success for
/// a `.waitForTaskToken` task is only acknowledged (the callback completes it).
/// ARGV: prefix, count, then per result: shard, token, event JSON (an inbox entry
/// without its `x`, which comes from the task). Returns 1/0 per result.
pub fn report() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local p = ARGV[1]
local out = {}
local i = 3
for j = 1, tonumber(ARGV[2]) do
  local s, tok, ev = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  local tk = p .. '{s' .. s .. '}:tasks'
  local t = redis.call('HGET', tk, tok)
  -- A worker's success on a `.waitForTaskToken` task only says it delivered the
  -- token: the task stays pending until SendTaskSuccess/Failure (store::registry).
  if t and string.sub(ev, 1, 9) == '{"t":"ok"' and string.find(cjson.decode(t).resource or '', '.waitForTaskToken', 1, true) then
    out[j] = 1
  elseif t then
    local task = cjson.decode(t)
    redis.call('HDEL', tk, tok)
    local tm = p .. '{s' .. s .. '}:timers'
    redis.call('ZREM', tm, 'to|' .. tok .. '|' .. task.execution_arn, 'hb|' .. tok .. '|' .. task.execution_arn)
    redis.call('RPUSH', p .. '{s' .. s .. '}:inbox', '{"x":' .. cjson.encode(task.execution_arn) .. ',' .. string.sub(ev, 2))
    ring(p .. '{s' .. s .. '}:bell')
    out[j] = 1
  else
    out[j] = 0
  end
end
return out
"#
    )
}

/// Claims up to N tasks from a queue, starting their heartbeat clocks; skips tokens
/// whose task is gone (cancelled). Re-rings the bell if work remains.
/// KEYS: ready list, queue bell. ARGV: prefix, max, now_ms. Returns task JSON texts.
pub fn claim() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local p = ARGV[1]
local now = tonumber(ARGV[3])
local toks = redis.call('RPOP', KEYS[1], tonumber(ARGV[2]))
local out = {}
if not toks then return out end
for _, tok in ipairs(toks) do
  local s = string.match(tok, '^(%d+)%.')
  if s then
    local t = redis.call('HGET', p .. '{s' .. s .. '}:tasks', tok)
    if t then
      local task = cjson.decode(t)
      local hb = tonumber(task.hb) or 0
      if hb > 0 then
        redis.call('ZADD', p .. '{s' .. s .. '}:timers', now + hb * 1000, 'hb|' .. tok .. '|' .. task.execution_arn)
      end
      out[#out + 1] = t
    end
  end
end
if redis.call('LLEN', KEYS[1]) > 0 then ring(KEYS[2]) end
return out
"#
    )
}

/// Extends a task's heartbeat deadline. KEYS: tasks hash, timers. ARGV: token, now_ms.
/// Returns 0 when the task is gone (the worker should stop), else 1.
pub const HEARTBEAT: &str = r#"
local t = redis.call('HGET', KEYS[1], ARGV[1])
if not t then return 0 end
local task = cjson.decode(t)
local hb = tonumber(task.hb) or 0
if hb > 0 then
  redis.call('ZADD', KEYS[2], 'XX', tonumber(ARGV[2]) + hb * 1000, 'hb|' .. ARGV[1] .. '|' .. task.execution_arn)
end
return 1
"#;

/// Hands tasks back to their queues (first in line), stopping their heartbeat clocks.
/// ARGV: prefix, then per token: shard, token. Returns how many were requeued.
pub fn release() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local p = ARGV[1]
local n = 0
local i = 2
while i < #ARGV do
  local s, tok = ARGV[i], ARGV[i + 1]
  i = i + 2
  local t = redis.call('HGET', p .. '{s' .. s .. '}:tasks', tok)
  if t then
    local task = cjson.decode(t)
    redis.call('ZREM', p .. '{s' .. s .. '}:timers', 'hb|' .. tok .. '|' .. task.execution_arn)
    redis.call('RPUSH', p .. 'q:' .. task.queue, tok)
    ring(p .. 'q:' .. task.queue .. ':bell')
    n = n + 1
  end
end
return n
"#
    )
}

/// Applies one batch of engine steps on a shard, all or nothing.
/// KEYS: lease, inbox, timers, tasks. ARGV: owner, inbox entries consumed, prefix, plan JSON.
/// Returns 'ok', or why nothing was written: 'lease', 'timer', 'ver'.
pub fn apply() -> String {
    format!(
        "{HELPERS}{}",
        r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'lease' end
local p = ARGV[3]
local plan = cjson.decode(ARGV[4])
for _, m in ipairs(plan.fired) do
  local due = redis.call('ZSCORE', KEYS[3], m)
  if (not due) or tonumber(due) > plan.now then return 'timer' end
end
for _, x in ipairs(plan.execs) do
  local v = tonumber(redis.call('HGET', x.key, 'ver')) or 0
  if v ~= x.ver then return 'ver' end
end
local n = tonumber(ARGV[2])
if n > 0 then redis.call('LTRIM', KEYS[2], n, -1) end
for _, m in ipairs(plan.fired) do redis.call('ZREM', KEYS[3], m) end
for _, m in ipairs(plan.zrem) do redis.call('ZREM', KEYS[3], m) end
for _, z in ipairs(plan.zadd) do redis.call('ZADD', KEYS[3], z[1], z[2]) end
for _, tok in ipairs(plan.hdel) do redis.call('HDEL', KEYS[4], tok) end
for _, x in ipairs(plan.execs) do
  redis.call('HSET', x.key, 'ver', x.ver + 1, 'st', x.st)
  if #x.fields > 0 then redis.call('HSET', x.key, unpack(x.fields)) end
  if #x.history > 0 then push_all('RPUSH', x.hkey, x.history) end
end
local rung = {}
for _, t in ipairs(plan.tasks) do
  redis.call('HSET', KEYS[4], t[1], t[3])
  redis.call('LPUSH', p .. 'q:' .. t[2], t[1])
  if not rung[t[2]] then
    rung[t[2]] = true
    redis.call('SADD', p .. 'queues', t[2])
    ring(p .. 'q:' .. t[2] .. ':bell')
  end
end
return 'ok'
"#
    )
}

/// Renews a shard lease if we still hold it. KEYS: lease. ARGV: owner, ttl_ms.
pub const RENEW_LEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"#;

/// Gives a shard lease up if we hold it. KEYS: lease. ARGV: owner.
pub const RELEASE_LEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;
