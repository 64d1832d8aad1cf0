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
-- Runs `cmd key ARGV[from..to]` in chunks; chunk boundaries fall on even offsets
-- from `from`, so (score, member) and (field, value) pairs stay together.
local function push_range(cmd, key, from, to)
  local i = from
  while i <= to do
    local j = math.min(i + 999, to)
    redis.call(cmd, key, unpack(ARGV, i, j))
    i = j + 1
  end
end
-- A task record's heartbeat seconds, timeout (epoch ms) and execution ARN. Records are
-- written with these three first (`dispatch::TaskRecord`), so one anchored match reads
-- them; a record that does not match (written otherwise, or an ARN with an escape) is
-- decoded whole. Decoding took 4.3 us per record, the match 1.5.
local function task_head(t)
  local hb, to, arn = string.match(t, '^{"hb":(%d+),"timeout_at_ms":(%-?%d+),"execution_arn":"([^"\\]*)"')
  if hb then return tonumber(hb), tonumber(to), arn end
  local task = cjson.decode(t)
  return tonumber(task.hb) or 0, tonumber(task.timeout_at_ms) or 0, task.execution_arn
end
-- A bell holds one element at most: who rang it (`who`, a coordinator id) when only
-- that coordinator did since the last pop, else '1'. A coordinator's queue-bell
-- listener skips the wake-up when it pops its own id: it woke its pollers in-process.
local function ring(bell, who)
  who = who or '1'
  local cur = redis.call('LINDEX', bell, 0)
  if not cur then
    redis.call('RPUSH', bell, who)
  elseif cur ~= who then
    redis.call('LSET', bell, '0', '1')
    redis.call('LTRIM', bell, '0', '0')
  end
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

/// Starts executions (each idempotent on name and input while it runs): writes each
/// one's hash and arms its start timer (see `timers::Timer::Start`). Concurrent
/// StartExecution calls share one call (`store::starts`).
/// ARGV: count, then per execution 15 values: exec hash, timers, shard bell,
/// executions zset, sm hash, exec arn, name, input, start (`store::epoch` text), token prefix, start timer
/// member, state machine arn, ring ("1" to ring the shard bell; "0" when the shard's
/// loop runs in the caller's process, which hands it the start in-process), start timer
/// due (ms), synchronous ("1": started by StartSyncExecution, kept as the `sync` field).
/// Returns per execution {'created', start, definition sha, role, machine name, type},
/// {'same', start}, {'exists', start} or {'nosm'}, each start as stored.
pub fn start_executions() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local out = {}
local i = 2
for j = 1, tonumber(ARGV[1]) do
  local xk, tk, bell, exz, smk = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local arn, input, start = ARGV[i + 5], ARGV[i + 7], ARGV[i + 8]
  local sm = redis.call('HMGET', smk, 'sha', 'role', 'name', 'type')
  if not sm[1] then
    out[j] = {'nosm'}
  else
    local cur = redis.call('HMGET', xk, 'input', 'start', 'status')
    if cur[2] then
      if cur[1] == input and cur[3] == 'RUNNING' then out[j] = {'same', cur[2]} else out[j] = {'exists', cur[2]} end
    else
      redis.call('HSET', xk, 'arn', arn, 'name', ARGV[i + 6], 'input', input, 'start', start,
        'tp', ARGV[i + 9], 'status', 'RUNNING', 'ver', '0', 'def', sm[1], 'role', sm[2], 'smname', sm[3],
        'sm', ARGV[i + 11])
      if ARGV[i + 14] == '1' then redis.call('HSET', xk, 'sync', '1') end
      redis.call('ZADD', exz, start, arn)
      redis.call('ZADD', tk, ARGV[i + 13], ARGV[i + 10])
      if ARGV[i + 12] ~= '0' then ring(bell) end
      out[j] = {'created', start, sm[1], sm[2] or '', sm[3] or '', sm[4] or ''}
    end
  end
  i = i + 15
end
return out
"#
    )
}

/// Queues an inbox entry (StopExecution, UpdateMapRun) for a running execution and,
/// when given, sets one field of its hash with it.
/// KEYS: exec hash, inbox, shard bell. ARGV: inbox entry, ring (as in `start_execution`),
/// then optionally field and value.
pub fn queue_if_running() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'none' end
if st ~= 'RUNNING' then return st end
if ARGV[3] then redis.call('HSET', KEYS[1], ARGV[3], ARGV[4]) end
redis.call('RPUSH', KEYS[2], ARGV[1])
if ARGV[2] ~= '0' then ring(KEYS[3]) end
return 'queued'
"#
    )
}

/// Reports task results: each pending token's event goes to its shard inbox and the
/// task leaves the pending table (so a timeout racing it finds nothing). A success for
/// a `.waitForTaskToken` task is only acknowledged (the callback completes it).
/// Each shard that gets an event has its bell rung once, unless it is listed in
/// `quiet` (shards served by the caller's process, which wakes them in-process).
/// ARGV: prefix, count, quiet (",3,7," style list of shard numbers), then per result:
/// shard, token, event JSON (an inbox entry without its `x`, which comes from the
/// task). Returns 1/0 per result.
pub fn report() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local p = ARGV[1]
local quiet = ARGV[3]
local out = {}
local bells = {}
local i = 4
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
    bells[s] = true
    out[j] = 1
  else
    out[j] = 0
  end
end
for s, _ in pairs(bells) do
  if not string.find(quiet, ',' .. s .. ',', 1, true) then ring(p .. '{s' .. s .. '}:bell') end
end
return out
"#
    )
}

/// Claims up to N tasks from a queue, starting their heartbeat clocks; skips tokens
/// whose task is gone (cancelled). Tasks with neither heartbeat nor timeout go in the
/// claimer's claim ledger (see `RECOVER_CLAIMS`). Re-rings the bell if work remains.
/// KEYS: ready list, queue bell, claims of the claimer, claimants.
/// ARGV: prefix, max, now_ms, claimer. Returns task JSON texts.
pub fn claim() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local p = ARGV[1]
local now = tonumber(ARGV[3])
local toks = redis.call('RPOP', KEYS[1], ARGV[2])
local out = {}
if not toks then return out end
local ledger = false
for _, tok in ipairs(toks) do
  local s = string.match(tok, '^(%d+)%.')
  if s then
    local t = redis.call('HGET', p .. '{s' .. s .. '}:tasks', tok)
    if t then
      local hb, timeout, arn = task_head(t)
      if hb > 0 then
        redis.call('ZADD', p .. '{s' .. s .. '}:timers', now + hb * 1000, 'hb|' .. tok .. '|' .. arn)
      elseif timeout == 0 then
        redis.call('ZADD', KEYS[3], ARGV[3], tok)
        ledger = true
      end
      out[#out + 1] = t
    end
  end
end
if ledger then redis.call('SADD', KEYS[4], ARGV[4]) end
if redis.call('LLEN', KEYS[1]) > 0 then ring(KEYS[2]) end
return out
"#
    )
}

/// Puts back on their queues the tasks that dead coordinators claimed (or were handed
/// by their engine loops) without timers and may never have delivered: without this, a
/// coordinator killed between a claim and its answer would leave such a task pending
/// forever. A task that was delivered after all runs twice (delivery is at least once).
/// A claimant is dead when its last check-in in the coordinators ZSET is older than the
/// liveness window, or gone. KEYS: claimants, coordinators.
/// ARGV: prefix, now_ms, liveness_ms. Returns how many tasks were requeued.
pub fn recover_claims() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local p = ARGV[1]
local oldest = tonumber(ARGV[2]) - tonumber(ARGV[3])
local n = 0
for _, owner in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local seen = redis.call('ZSCORE', KEYS[2], owner)
  if (not seen) or tonumber(seen) < oldest then
    local ck = p .. 'claims:' .. owner
    for _, tok in ipairs(redis.call('ZRANGE', ck, 0, -1)) do
      local s = string.match(tok, '^(%d+)%.')
      local t = s and redis.call('HGET', p .. '{s' .. s .. '}:tasks', tok)
      if t then
        local task = cjson.decode(t)
        redis.call('RPUSH', p .. 'q:' .. task.queue, tok)
        ring(p .. 'q:' .. task.queue .. ':bell')
        n = n + 1
      end
    end
    redis.call('DEL', ck)
    redis.call('SREM', KEYS[1], owner)
  end
end
return n
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

/// Hands tasks back to their queues (first in line), stopping their heartbeat clocks
/// and dropping them from the claim ledgers.
/// ARGV: prefix, then per token: shard, token. Returns how many were requeued.
pub fn release() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local p = ARGV[1]
local n = 0
local i = 2
-- A task back on its queue is no longer anyone's claim: a ledger entry left behind
-- would make a dead claimant's recovery queue it a second time.
local ledgers = redis.call('SMEMBERS', p .. 'claimants')
while i < #ARGV do
  local s, tok = ARGV[i], ARGV[i + 1]
  i = i + 2
  local t = redis.call('HGET', p .. '{s' .. s .. '}:tasks', tok)
  if t then
    local task = cjson.decode(t)
    -- The push first: a script that fails midway keeps its earlier writes, and a task
    -- must not leave the ledger before it is on its queue.
    redis.call('RPUSH', p .. 'q:' .. task.queue, tok)
    redis.call('ZREM', p .. '{s' .. s .. '}:timers', 'hb|' .. tok .. '|' .. task.execution_arn)
    for _, owner in ipairs(ledgers) do redis.call('ZREM', p .. 'claims:' .. owner, tok) end
    ring(p .. 'q:' .. task.queue .. ':bell')
    n = n + 1
  end
end
return n
"#
    )
}

/// Applies one batch of engine steps on a shard, all or nothing.
/// KEYS: lease, inbox, timers, tasks.
/// ARGV (flat, so large texts arrive raw instead of inside a JSON envelope to decode):
/// owner, inbox entries consumed, prefix, now_ms, then the counts nfired, nzrem, nzadd,
/// nhdel, ndirect, ntasks, nexecs, ncreates, nmachines, then the sections in this order:
/// machines (executions index, machine key, sha, role, machine name, machine arn: each
/// state machine the creates ran, sent once per call instead of once per create);
/// fired members; zrem members; zadd (score, member) pairs; hdel tokens; direct tokens
/// (results handed to the loop in-process: each task must still be pending, and leaves
/// the table through the hdel section); tasks (token, queue, record, queued: "1" to push
/// it on its queue, "0" when it is handed to a poller of this process as claimed, "2" the
/// same, also in the owner's claim ledger, see `recover_claims`); creates (key, machine
/// number from 1, arn, name, input, start, token prefix: an execution StartExecution
/// handed in, written as the start script would; it must not exist, and its machine must
/// still have that definition); execs (key, or "@n" for the key of the n-th create;
/// hkey, ver, next ver, st, nfields, nhistory, ttl ms ("0": none; set when it
/// finishes), nchildren, field/value pairs..., history events..., then per distributed
/// Map child execution with new events: its history key, nevents, ttl ms, events...).
/// Every byte of ARGV is hashed by Lua when the call starts (~1.6 µs per KB here), and
/// every `redis.call` costs about a microsecond besides its command: hence the machine
/// table, the "@n" keys, and one HSET, ZADD or LPUSH per call and key for the tasks.
/// Numbers that only pass through go as the caller's strings, never as Lua numbers: Redis
/// turns a Lua number argument into text with `snprintf("%.17g")`, which took 6% of its
/// CPU under load. Versions are compared as text (always written as decimal integers).
/// Queue bells are rung with the owner's id (see `ring`): the caller wakes its own
/// pollers in-process after an 'ok'.
/// Returns 'ok', or why nothing was written: 'lease', 'timer', 'ver', 'gone' followed
/// by the direct tokens no longer pending, or 'fresh' followed by the ARNs of the
/// creates that exist already or whose definition changed, one per line.
pub fn apply() -> String {
    format!(
        "{HELPERS}{}",
        r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'lease' end
local p = ARGV[3]
local now = tonumber(ARGV[4])
local nfired, nzrem, nzadd = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local nhdel, ndirect, ntasks, nexecs = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local ncreates, nmachines = tonumber(ARGV[12]), tonumber(ARGV[13])
local machines = 14
local fired = machines + 6 * nmachines
local zrem = fired + nfired
local zadd = zrem + nzrem
local hdel = zadd + 2 * nzadd
local direct = hdel + nhdel
local tasks = direct + ndirect
local creates = tasks + 4 * ntasks
local execs = creates + 7 * ncreates
for i = fired, zrem - 1 do
  local due = redis.call('ZSCORE', KEYS[3], ARGV[i])
  if (not due) or tonumber(due) > now then return 'timer' end
end
local gone = nil
for i = direct, tasks - 1 do
  if redis.call('HEXISTS', KEYS[4], ARGV[i]) == 0 then
    gone = (gone or 'gone') .. '\n' .. ARGV[i]
  end
end
if gone then return gone end
-- Each machine's offset in ARGV; its definition is checked once per call.
local mach = {}
local fresh_def = {}
for k = 1, nmachines do
  local m = machines + 6 * (k - 1)
  mach[k] = m
  fresh_def[k] = redis.call('HGET', ARGV[m + 1], 'sha') == ARGV[m + 2]
end
-- Executions this call creates: checked absent here, so their version is 0.
-- created: hash key -> its offset in ARGV; create_at: the n-th create's offset.
local taken = nil
local created = {}
local create_at = {}
local c = creates
for n = 1, ncreates do
  if not fresh_def[tonumber(ARGV[c + 1])] or redis.call('EXISTS', ARGV[c]) == 1 then
    taken = (taken or 'fresh') .. '\n' .. ARGV[c + 2]
  end
  created[ARGV[c]] = c
  create_at[n] = c
  c = c + 7
end
if taken then return taken end
-- An exec write's key, and the offset of the create of that key in this call (if any).
local function exec_key(i)
  local key = ARGV[i]
  if string.byte(key, 1) == 64 then
    local at = create_at[tonumber(string.sub(key, 2))]
    return ARGV[at], at
  end
  return key, created[key]
end
-- Where an exec write's child histories start, and where the next exec write starts.
local function exec_parts(i)
  local children = i + 9 + 2 * tonumber(ARGV[i + 5]) + tonumber(ARGV[i + 6])
  local j = children
  for _ = 1, tonumber(ARGV[i + 8]) do j = j + 3 + tonumber(ARGV[j + 1]) end
  return children, j
end
local i = execs
for _ = 1, nexecs do
  local key, at = exec_key(i)
  local v = '0'
  if not at then v = redis.call('HGET', key, 'ver') or '0' end
  if v ~= ARGV[i + 2] then return 'ver' end
  local _, next_exec = exec_parts(i)
  i = next_exec
end
local n = tonumber(ARGV[2])
if n > 0 then redis.call('LTRIM', KEYS[2], n, -1) end
if zadd > fired then push_range('ZREM', KEYS[3], fired, zadd - 1) end
if hdel > zadd then push_range('ZADD', KEYS[3], zadd, hdel - 1) end
if direct > hdel then push_range('HDEL', KEYS[4], hdel, direct - 1) end
-- A created execution's fields, as the start script writes them (version 0).
local function create_fields(c)
  local m = mach[tonumber(ARGV[c + 1])]
  return {'arn', ARGV[c + 2], 'name', ARGV[c + 3], 'input', ARGV[c + 4], 'start', ARGV[c + 5], 'tp', ARGV[c + 6],
    'status', 'RUNNING', 'ver', '0', 'def', ARGV[m + 2], 'role', ARGV[m + 3], 'smname', ARGV[m + 4], 'sm', ARGV[m + 5]}
end
-- Each machine's executions index gets its new executions in one ZADD.
local indexed = {}
c = creates
for _ = 1, ncreates do
  local k = tonumber(ARGV[c + 1])
  local entries = indexed[k]
  if not entries then entries = {}; indexed[k] = entries end
  entries[#entries + 1] = ARGV[c + 5]
  entries[#entries + 1] = ARGV[c + 2]
  c = c + 7
end
for k = 1, nmachines do
  if indexed[k] then push_all('ZADD', ARGV[mach[k]], indexed[k]) end
end
i = execs
for _ = 1, nexecs do
  local key, at = exec_key(i)
  local hkey = ARGV[i + 1]
  local nf, nh, ttl = 2 * tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]), ARGV[i + 7]
  local children, next_exec = exec_parts(i)
  if at then
    -- A created execution and its first step in one HSET (the step's fields come later
    -- in the call, so they win): one command and one key lookup fewer per execution.
    created[key] = nil
    local a = create_fields(at)
    a[#a + 1], a[#a + 2], a[#a + 3], a[#a + 4] = 'ver', ARGV[i + 3], 'st', ARGV[i + 4]
    for k = i + 9, i + 8 + nf do a[#a + 1] = ARGV[k] end
    redis.call('HSET', key, unpack(a))
  else
    -- An execution's fields are a handful of pairs: one HSET, well within unpack's limit.
    redis.call('HSET', key, 'ver', ARGV[i + 3], 'st', ARGV[i + 4], unpack(ARGV, i + 9, i + 8 + nf))
  end
  i = i + 9 + nf
  if nh > 0 then push_range('RPUSH', hkey, i, i + nh - 1) end
  if ttl ~= '0' then
    redis.call('PEXPIRE', key, ttl)
    redis.call('PEXPIRE', hkey, ttl)
  end
  i = children
  while i < next_exec do
    local ckey, cn, cttl = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
    if cn > 0 then push_range('RPUSH', ckey, i + 3, i + 2 + cn) end
    if cttl ~= '0' then redis.call('PEXPIRE', ckey, cttl) end
    i = i + 3 + cn
  end
end
-- A create without a step in this call (the loop always sends one) is still written.
for key, at in pairs(created) do redis.call('HSET', key, unpack(create_fields(at))) end
-- Tasks: their records in one HSET, each queue's pushes in one LPUSH, ledger entries
-- in one ZADD.
local records = {}
local queues = {}
local pushes = {}
local ledger = {}
i = tasks
for _ = 1, ntasks do
  local tok, q = ARGV[i], ARGV[i + 1]
  records[#records + 1] = tok
  records[#records + 1] = ARGV[i + 2]
  if not pushes[q] then
    pushes[q] = {}
    queues[#queues + 1] = q
    redis.call('SADD', p .. 'queues', q)
  end
  if ARGV[i + 3] == '1' then
    local list = pushes[q]
    list[#list + 1] = tok
  elseif ARGV[i + 3] == '2' then
    ledger[#ledger + 1] = ARGV[4]
    ledger[#ledger + 1] = tok
  end
  i = i + 4
end
if #records > 0 then push_all('HSET', KEYS[4], records) end
for _, q in ipairs(queues) do
  if #pushes[q] > 0 then
    push_all('LPUSH', p .. 'q:' .. q, pushes[q])
    ring(p .. 'q:' .. q .. ':bell', ARGV[1])
  end
end
if #ledger > 0 then
  push_all('ZADD', p .. 'claims:' .. ARGV[1], ledger)
  redis.call('SADD', p .. 'claimants', ARGV[1])
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
