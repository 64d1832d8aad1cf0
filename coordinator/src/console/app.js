// The Stepline console: a small single-page app over the AWS Step Functions JSON API.
// Views are picked by the URL hash: #/ (state machines), #/sm/<arn>, #/exec/<arn>.
// All user data goes into the page as text nodes; only the server's SVG (escaped on
// the server) is inserted as markup.
'use strict';
(() => {
  // "/" normally; a reverse proxy's prefix when the console is served below one.
  const ROOT = location.pathname.replace(/console\/?$/, '');
  const view = document.getElementById('view');
  const crumbs = document.getElementById('crumbs');
  const auto = document.getElementById('auto-refresh');
  const TERMINAL_FAIL = /(Failed|TimedOut|Aborted)$/;
  let timer = null;
  let seq = 0;
  // Survives auto-refresh re-renders of the same execution.
  let selected = { arn: null, state: null };
  const opened = new Set();
  let statusFilter = '';

  // ---- helpers ---------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  async function api(action, body) {
    const resp = await fetch(ROOT, {
      method: 'POST',
      headers: { 'X-Amz-Target': 'AWSStepFunctions.' + action, 'Content-Type': 'application/x-amz-json-1.0' },
      body: JSON.stringify(body || {}),
    });
    const text = await resp.text();
    let data;
    try { data = JSON.parse(text); } catch (_) { data = { message: text }; }
    if (!resp.ok) {
      throw new Error(`${action}: ${data.__type ? data.__type + ': ' : ''}${data.message || resp.status}`);
    }
    return data;
  }

  async function graph(query) {
    const resp = await fetch(ROOT + 'console/api/graph.svg?' + new URLSearchParams(query));
    const text = await resp.text();
    if (!resp.ok) throw new Error(text || `graph: HTTP ${resp.status}`);
    return text;
  }

  const pad = (n, w = 2) => String(n).padStart(w, '0');
  function toDate(v) {
    if (v === undefined || v === null) return null;
    const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
    return isNaN(d) ? null : d;
  }
  function fmtDate(v) {
    const d = toDate(v);
    if (!d) return '—';
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }
  function fmtMs(ms) {
    if (ms === null || isNaN(ms)) return '—';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    const m = Math.floor(ms / 60000);
    return m < 60 ? `${m} min ${Math.round((ms % 60000) / 1000)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
  }
  function duration(start, stop) {
    const a = toDate(start);
    const b = toDate(stop) || new Date();
    return a ? fmtMs(b - a) : '—';
  }
  function pretty(text) {
    if (text === undefined || text === null) return '';
    if (typeof text !== 'string') return JSON.stringify(text, null, 2);
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return text; }
  }
  const badge = (status) => el('span', { class: 'badge ' + status, text: status });
  const errorBox = (e) => el('div', { class: 'error', text: e && e.message ? e.message : String(e) });
  const link = (hash, text) => el('a', { href: hash, text });
  const smHash = (arn) => '#/sm/' + encodeURIComponent(arn);
  const execHash = (arn) => '#/exec/' + encodeURIComponent(arn);
  const nameOf = (arn) => String(arn).split(':').pop();

  function setCrumbs(items) {
    crumbs.replaceChildren();
    items.forEach(([text, hash], i) => {
      crumbs.append(el('span', { class: 'sep', text: '/' }));
      crumbs.append(hash && i < items.length - 1 ? link(hash, text) : el('span', { class: 'here', text }));
    });
  }

  function show(mine, ...nodes) {
    if (mine !== seq) return false;
    view.replaceChildren(...nodes.filter(Boolean));
    return true;
  }

  function later(mine, ms) {
    if (mine === seq && auto.checked) timer = setTimeout(() => route(true), ms);
  }

  async function allPages(action, body, key, limit) {
    const out = [];
    let token;
    do {
      const page = await api(action, Object.assign({}, body, token ? { nextToken: token } : {}));
      out.push(...(page[key] || []));
      token = page.nextToken;
    } while (token && out.length < limit);
    return { items: out, more: Boolean(token) };
  }

  function graphCard(svgText, error, withLegend) {
    const box = el('div', { class: 'graph' });
    if (error) box.append(errorBox(error));
    else box.innerHTML = svgText;
    const legend = withLegend && el('div', { class: 'legend' },
      el('span', {}, el('i', { class: 'v' }), 'visited'),
      el('span', {}, el('i', { class: 'c' }), 'running'),
      el('span', {}, el('i', { class: 'f' }), 'failed here'),
      el('span', {}, el('i', { class: 'k' }), 'error caught'),
      el('span', { text: 'Click a state for its input and output.' }));
    return el('section', { class: 'card' }, el('h2', { text: 'Graph' }), box, legend);
  }

  // ---- views -----------------------------------------------------------------------

  async function showMachines(mine) {
    setCrumbs([['State machines']]);
    const { items, more } = await allPages('ListStateMachines', { maxResults: 100 }, 'stateMachines', 1000);
    const body = items.length === 0
      ? el('div', { class: 'empty' },
        'No state machines yet. Create one with any AWS SDK or the AWS CLI pointed at this server, e.g. ',
        el('code', { text: `aws stepfunctions create-state-machine --endpoint-url ${location.origin}${ROOT} …` }))
      : el('table', {},
        el('thead', {}, el('tr', {}, el('th', { text: 'Name' }), el('th', { text: 'Type' }), el('th', { text: 'Created' }))),
        el('tbody', {}, items.map((m) => el('tr', {},
          el('td', {}, link(smHash(m.stateMachineArn), m.name), el('div', { class: 'arn', text: m.stateMachineArn })),
          el('td', { text: m.type }),
          el('td', { class: 'num', text: fmtDate(m.creationDate) })))));
    show(mine,
      el('h1', { text: 'State machines' }),
      el('section', { class: 'card flush' }, body),
      more && el('p', { class: 'muted', text: 'Showing the first 1000.' }));
  }

  async function showMachine(arn, mine) {
    setCrumbs([['State machines', '#/'], [nameOf(arn)]]);
    const [desc, execs, svg] = await Promise.allSettled([
      api('DescribeStateMachine', { stateMachineArn: arn }),
      api('ListExecutions', Object.assign({ stateMachineArn: arn, maxResults: 100 }, statusFilter ? { statusFilter } : {})),
      graph({ stateMachineArn: arn }),
    ]);
    if (desc.status === 'rejected') throw desc.reason;
    const sm = desc.value;
    const filter = el('select', { 'aria-label': 'Status filter', onchange: (e) => { statusFilter = e.target.value; route(); } },
      ['', 'RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'].map((s) =>
        el('option', { value: s, selected: s === statusFilter, text: s || 'All statuses' })));
    let table;
    let running = false;
    if (execs.status === 'rejected') table = errorBox(execs.reason);
    else if (execs.value.executions.length === 0) table = el('div', { class: 'empty', text: 'No executions.' });
    else {
      running = execs.value.executions.some((x) => x.status === 'RUNNING');
      table = el('table', {},
        el('thead', {}, el('tr', {}, ['Name', 'Status', 'Started', 'Duration'].map((h) => el('th', { text: h })))),
        el('tbody', {}, execs.value.executions.map((x) => el('tr', {},
          el('td', {}, link(execHash(x.executionArn), x.name)),
          el('td', {}, badge(x.status)),
          el('td', { class: 'num', text: fmtDate(x.startDate) }),
          el('td', { class: 'num', text: duration(x.startDate, x.stopDate) })))));
    }
    const name = el('input', { type: 'text', placeholder: 'name (optional)', 'aria-label': 'Execution name' });
    const input = el('textarea', { 'aria-label': 'Execution input', spellcheck: 'false' });
    input.value = '{}';
    const startError = el('div');
    const start = el('button', {
      class: 'primary', type: 'button', text: 'Start execution',
      onclick: async () => {
        startError.replaceChildren();
        try {
          const body = { stateMachineArn: arn, input: input.value };
          if (name.value.trim()) body.name = name.value.trim();
          const r = await api('StartExecution', body);
          location.hash = execHash(r.executionArn);
        } catch (e) { startError.replaceChildren(errorBox(e)); }
      },
    });
    show(mine,
      el('h1', { text: sm.name }),
      el('div', { class: 'arn', text: sm.stateMachineArn }),
      el('div', { class: 'split' },
        graphCard(svg.value, svg.status === 'rejected' ? svg.reason : null, false),
        el('div', {},
          el('section', { class: 'card' },
            el('h2', { text: 'Details' }),
            el('dl', { class: 'facts' },
              el('dt', { text: 'Type' }), el('dd', { text: sm.type }),
              el('dt', { text: 'Created' }), el('dd', { text: fmtDate(sm.creationDate) }),
              el('dt', { text: 'Role' }), el('dd', { class: 'arn', text: sm.roleArn })),
            el('details', { style: 'margin-top:10px' }, el('summary', { text: 'Definition' }),
              el('pre', { text: pretty(sm.definition) }))),
          el('section', { class: 'card' },
            el('h2', { text: 'Start an execution' }),
            el('div', { class: 'toolbar' }, name, el('span', { class: 'grow' }), start),
            input, startError),
          el('section', { class: 'card flush' },
            el('div', { class: 'toolbar', style: 'padding:14px 16px 0' },
              el('h2', { text: 'Executions', style: 'margin:0' }), el('span', { class: 'grow' }), filter),
            table))));
    if (running) later(mine, 4000);
  }

  // The state each event belongs to: its own name for state events, else the latest
  // state entered (an approximation where Parallel branches interleave).
  function annotate(events) {
    let current = null;
    return events.map((e) => {
      const key = Object.keys(e).find((k) => k.endsWith('EventDetails'));
      const details = key ? e[key] : null;
      if (e.type.endsWith('StateEntered') && details) current = details.name;
      const state = details && (e.type.endsWith('StateEntered') || e.type.endsWith('StateExited')) ? details.name : current;
      return { e, details, state, own: Boolean(details && details.name && e.type.includes('State')) };
    });
  }

  function stateDetails(rows, name) {
    if (!name) {
      return el('p', { class: 'muted', text: 'Click a state in the graph to see its input, output and events.' });
    }
    const mine = rows.filter((r) => r.state === name);
    if (mine.length === 0) return el('div', {}, el('h2', { text: name }), el('p', { class: 'muted', text: 'Not entered.' }));
    const entered = mine.filter((r) => r.e.type.endsWith('StateEntered'));
    const exited = mine.filter((r) => r.e.type.endsWith('StateExited'));
    const failure = [...mine].reverse().find((r) => TERMINAL_FAIL.test(r.e.type) && r.details);
    const last = (list) => list.length ? list[list.length - 1].details : null;
    const input = last(entered);
    const output = last(exited);
    return el('div', {},
      el('h2', { text: name }),
      el('p', { class: 'muted', text: `Entered ${entered.length}×, left ${exited.length}×; ${mine.length} events.` }),
      failure && el('div', { class: 'error', text: `${failure.e.type}: ${failure.details.error || ''}\n${failure.details.cause || ''}`.trim() }),
      el('h2', { text: 'Input', style: 'margin-top:10px' }), el('pre', { text: input ? pretty(input.input) : '—' }),
      el('h2', { text: 'Output', style: 'margin-top:10px' }), el('pre', { text: output ? pretty(output.output) : '—' }));
  }

  function eventsTable(rows) {
    const t0 = rows.length ? toDate(rows[0].e.timestamp) : null;
    const tbody = el('tbody');
    for (const r of rows) {
      const id = r.e.id;
      const t = toDate(r.e.timestamp);
      const tr = el('tr', { class: 'event' + (TERMINAL_FAIL.test(r.e.type) ? ' fail' : ''), 'data-state': r.state || '' },
        el('td', { class: 'num', text: id }),
        el('td', { class: 'type', text: r.e.type }),
        el('td', { text: r.own ? r.state : '' }),
        el('td', { class: 'num', text: fmtDate(r.e.timestamp) }),
        el('td', { class: 'num', text: t && t0 ? '+' + fmtMs(t - t0) : '' }));
      const detail = el('tr', { hidden: !opened.has(id) }, el('td', {}), el('td', { colspan: 4 }, el('pre', { text: pretty(r.details || {}) })));
      tr.addEventListener('click', () => {
        if (opened.has(id)) opened.delete(id); else opened.add(id);
        detail.hidden = !opened.has(id);
      });
      tbody.append(tr, detail);
    }
    return el('table', {},
      el('thead', {}, el('tr', {}, ['#', 'Type', 'State', 'Time', 'Since start'].map((h) => el('th', { text: h })))),
      tbody);
  }

  function highlight(name, panel, rows, graphBox, table) {
    selected.state = name;
    panel.replaceChildren(stateDetails(rows, name));
    for (const g of graphBox.querySelectorAll('g.state')) g.classList.toggle('selected', g.dataset.state === name);
    for (const tr of table.querySelectorAll('tr.event')) tr.classList.toggle('hl', Boolean(name) && tr.dataset.state === name);
  }

  async function showExecution(arn, mine) {
    setCrumbs([['State machines', '#/'], [nameOf(arn)]]);
    const [desc, history, svg] = await Promise.allSettled([
      api('DescribeExecution', { executionArn: arn }),
      allPages('GetExecutionHistory', { executionArn: arn, maxResults: 1000 }, 'events', 5000),
      graph({ executionArn: arn }),
    ]);
    if (desc.status === 'rejected') throw desc.reason;
    const x = desc.value;
    // A distributed Map's child runs on `<machine>/<label>`: its crumbs lead to the machine.
    const machineArn = x.mapRunArn ? x.stateMachineArn.replace(/\/[^/:]*$/, '') : x.stateMachineArn;
    setCrumbs([['State machines', '#/'], [nameOf(machineArn), smHash(machineArn)], [x.name]]);
    if (selected.arn !== arn) selected = { arn, state: null };
    const rows = history.status === 'fulfilled' ? annotate(history.value.items) : [];
    const gcard = graphCard(svg.value, svg.status === 'rejected' ? svg.reason : null, true);
    const graphBox = gcard.querySelector('.graph');
    const table = history.status === 'fulfilled' ? eventsTable(rows) : errorBox(history.reason);
    const panel = el('div');
    // Without a choice, show where it failed or where it is now.
    if (!selected.state) {
      const hot = graphBox.querySelector('g.state.failed, g.state.current');
      if (hot) selected.state = hot.dataset.state;
    }
    graphBox.addEventListener('click', (ev) => {
      const g = ev.target.closest('g.state[data-state]');
      if (g) highlight(g.dataset.state, panel, rows, graphBox, table);
    });
    const facts = el('dl', { class: 'facts' },
      el('dt', { text: 'Status' }), el('dd', {}, badge(x.status)),
      el('dt', { text: 'State machine' }), el('dd', {}, link(smHash(machineArn), nameOf(x.stateMachineArn))),
      x.mapRunArn !== undefined && [el('dt', { text: 'Map run' }), el('dd', { class: 'arn', text: x.mapRunArn })],
      el('dt', { text: 'Started' }), el('dd', { text: fmtDate(x.startDate) }),
      el('dt', { text: 'Stopped' }), el('dd', { text: fmtDate(x.stopDate) }),
      el('dt', { text: 'Duration' }), el('dd', { text: duration(x.startDate, x.stopDate) }),
      x.error !== undefined && [el('dt', { text: 'Error' }), el('dd', {}, el('strong', { class: 'bad', text: x.error }))],
      x.cause !== undefined && [el('dt', { text: 'Cause' }), el('dd', {}, el('pre', { text: pretty(x.cause) }))]);
    const stop = x.status === 'RUNNING' && el('button', {
      type: 'button', text: 'Stop execution',
      onclick: async () => {
        try { await api('StopExecution', { executionArn: arn }); route(); } catch (e) { alert(e.message); }
      },
    });
    const more = history.status === 'fulfilled' && history.value.more
      && el('p', { class: 'muted', style: 'padding:0 16px', text: `Showing the first ${rows.length} events.` });
    show(mine,
      el('div', { class: 'toolbar' }, el('h1', { text: x.name }), badge(x.status), el('span', { class: 'grow' }), stop),
      el('div', { class: 'arn', text: x.executionArn }),
      el('div', { class: 'split' },
        gcard,
        el('div', {},
          el('section', { class: 'card' }, el('h2', { text: 'Execution' }), facts),
          el('section', { class: 'card' }, panel))),
      el('div', { class: 'row' },
        el('section', { class: 'card' }, el('h2', { text: 'Input' }), el('pre', { text: pretty(x.input) })),
        el('section', { class: 'card' }, el('h2', { text: 'Output' }),
          el('pre', { text: x.output !== undefined ? pretty(x.output) : '—' }))),
      mapRunsCard(rows, mine),
      el('section', { class: 'card flush' }, el('h2', { text: `Events (${rows.length})` }), more, table));
    highlight(selected.state, panel, rows, graphBox, table);
    if (x.status === 'RUNNING') later(mine, 2000);
  }

  // A distributed Map's map runs in this history, each with its child executions
  // (newest first, the first 100), filled in once listed.
  function mapRunsCard(rows, mine) {
    const runs = rows.filter((r) => r.e.type === 'MapRunStarted')
      .map((r) => r.details && r.details.mapRunArn).filter(Boolean);
    if (runs.length === 0) return null;
    const card = el('section', { class: 'card flush' }, el('h2', { text: `Map runs (${runs.length})` }));
    runs.slice(0, 5).forEach((run) => {
      const box = el('div', {}, el('div', { class: 'arn', style: 'padding:0 16px', text: run }));
      card.append(box);
      api('ListExecutions', { mapRunArn: run, maxResults: 100 }).then((page) => {
        if (mine !== seq) return;
        const children = page.executions || [];
        box.append(children.length === 0 ? el('div', { class: 'empty', text: 'No child executions.' }) :
          el('table', {},
            el('thead', {}, el('tr', {}, ['Child execution', 'Status', 'Started', 'Duration'].map((h) => el('th', { text: h })))),
            el('tbody', {}, children.map((c) => el('tr', {},
              el('td', {}, link(execHash(c.executionArn), c.name)),
              el('td', {}, badge(c.status)),
              el('td', { class: 'num', text: fmtDate(c.startDate) }),
              el('td', { class: 'num', text: duration(c.startDate, c.stopDate) }))))));
      }, (e) => { if (mine === seq) box.append(errorBox(e)); });
    });
    return card;
  }

  // ---- routing ---------------------------------------------------------------------

  async function route(quiet) {
    clearTimeout(timer);
    const mine = ++seq;
    const hash = location.hash.replace(/^#\/?/, '');
    const cut = hash.indexOf('/');
    const kind = cut < 0 ? hash : hash.slice(0, cut);
    let arn = '';
    try { arn = cut < 0 ? '' : decodeURIComponent(hash.slice(cut + 1)); } catch (_) { arn = ''; }
    if (!quiet) document.title = 'Stepline console';
    try {
      if (kind === 'sm' && arn) await showMachine(arn, mine);
      else if (kind === 'exec' && arn) await showExecution(arn, mine);
      else await showMachines(mine);
    } catch (e) {
      show(mine, errorBox(e), el('p', {}, link('#/', 'Back to the state machines')));
    }
  }

  window.addEventListener('hashchange', () => route());
  document.getElementById('refresh').addEventListener('click', () => route());
  auto.addEventListener('change', () => { if (auto.checked) route(true); else clearTimeout(timer); });
  route();
})();
