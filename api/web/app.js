// hepvault's web page: plain JavaScript over the HTTP API, no framework and
// no build step. Every view lives in the URL's hash, so a view is shared by
// sharing its URL:
//   #calls?from=..&to=..&filters   the calls of a window (GET /api/v1/calls)
//   #packets?from=..&to=..&filters the packets of a window (GET /api/v1/packets)
//   #call?id=CALL-ID&legs=..&msg=N  a call's ladder with its legs, message N opened
//                                   (alone=1: without its legs)
'use strict';
(function () {
  const $ = (s) => document.querySelector(s);
  const main = $('#main'), note = $('#note'), form = $('#search');
  const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ESC[c]);

  // What each listing takes; anything else in the URL is not sent.
  const PARAMS = {
    packets: ['from', 'to', 'limit', 'user', 'from_user', 'to_user', 'ruri_user', 'ip', 'method', 'status', 'call_id', 'text', 'capture_id'],
    calls: ['from', 'to', 'limit', 'user', 'from_user', 'to_user', 'ruri_user', 'ip', 'method', 'status', 'state', 'capture_id'],
  };
  const LIMIT = { packets: '1000', calls: '1000' };

  // ---- the API, with the token when one is needed ----
  const TOKEN_KEY = 'hepvault-token';
  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let tokenWait = null;

  // askToken shows the token form and resolves once a token is entered.
  function askToken(refused) {
    if (!tokenWait) {
      tokenWait = new Promise((resolve) => {
        const f = $('#token-form');
        f.hidden = false;
        say(refused ? 'The API refused that token: enter the right one.' : 'This hepvault asks for an API token.', true);
        $('#token').value = '';
        $('#token').focus();
        f.onsubmit = (ev) => {
          ev.preventDefault();
          token = $('#token').value.trim();
          sessionStorage.setItem(TOKEN_KEY, token);
          f.hidden = true;
          say('');
          tokenWait = null;
          resolve();
        };
      });
    }
    return tokenWait;
  }

  async function api(path) {
    for (;;) {
      const r = await fetch(path, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
      if (r.status !== 401) return r;
      await askToken(token !== '');
    }
  }

  async function apiJSON(path) {
    const r = await api(path);
    let body = null;
    try { body = await r.json(); } catch (e) { /* an error page that is not JSON */ }
    if (!r.ok) {
      const err = new Error((body && body.error) || r.status + ' ' + r.statusText);
      err.status = r.status;
      throw err;
    }
    return body;
  }

  function say(msg, isError) {
    note.hidden = !msg;
    note.textContent = msg || '';
    note.className = isError ? 'error' : '';
  }

  // ---- times: what the server reads, shown in the browser's zone and UTC ----
  // The server parses the time as typed (hepvault.ParseTime); this reading
  // only shows the window, so a time it cannot read still goes to the server.
  const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
  const DAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'];
  // The zone abbreviations hepvault.ParseTime knows, in minutes east of UTC.
  const ZONES = {
    UTC: 0, UT: 0, GMT: 0, Z: 0, WET: 0, WEST: 60, BST: 60, CET: 60, CEST: 120, MET: 60, MEST: 120, EET: 120,
    EEST: 180, MSK: 180, WAT: 60, CAT: 120, EAT: 180, SAST: 120, EST: -300, EDT: -240, CST: -360, CDT: -300,
    MST: -420, MDT: -360, PST: -480, PDT: -420, AKST: -540, AKDT: -480, HST: -600, AST: -240, ADT: -180,
    NST: -210, NDT: -150, BRT: -180, ART: -180, IST: 330, PKT: 300, HKT: 480, SGT: 480, AWST: 480, JST: 540,
    KST: 540, ACST: 570, ACDT: 630, AEST: 600, AEDT: 660, NZST: 720, NZDT: 780,
  };

  function parseTime(s) {
    s = s.trim();
    let m = /^(\d{1,12})(?:\.(\d{1,9}))?$/.exec(s);
    if (m) return new Date(Number(m[1]) * 1000 + Math.floor(Number('0.' + (m[2] || '0')) * 1000));
    if (/^\d/.test(s)) {
      const t = s.replace(' ', 'T');
      if (!/(Z|[+-]\d\d:?\d\d)$/i.test(t)) return null;
      const d = new Date(t);
      return isNaN(d) ? null : d;
    }
    return parseDateOutput(s);
  }

  // parseDateOutput reads what `date` prints, in any of its locales' orders
  // ("Mon Dec  7 14:03:07 UTC 2026", "Mon  7 Dec 2026 02:03:07 PM +0100").
  function parseDateOutput(s) {
    let mon = -1, day = 0, year = 0, hh = -1, mm = 0, ss = 0, ms = 0, ampm = '', off = null;
    for (const tok of s.split(/[\s,]+/)) {
      if (!tok) continue;
      const up = tok.toUpperCase();
      let m;
      if ((m = /^(\d{1,2}):(\d\d):(\d\d)(?:\.(\d{1,9}))?$/.exec(tok))) {
        hh = +m[1]; mm = +m[2]; ss = +m[3]; ms = Math.floor(Number('0.' + (m[4] || '0')) * 1000);
      } else if (/^\d{4}$/.test(tok)) year = +tok;
      else if (/^\d{1,2}$/.test(tok)) day = +tok;
      else if (up === 'AM' || up === 'PM') ampm = up;
      else if ((m = /^([+-])(\d\d)(\d\d)$/.exec(tok))) off = (m[1] === '-' ? -1 : 1) * (+m[2] * 60 + +m[3]);
      else if (Object.prototype.hasOwnProperty.call(ZONES, up)) off = ZONES[up];
      else if (MONTHS.includes(up.slice(0, 3))) mon = MONTHS.indexOf(up.slice(0, 3));
      else if (!DAYS.includes(up.slice(0, 3))) return null;
    }
    if (mon < 0 || !day || !year || hh < 0 || off === null) return null;
    if (ampm) hh = (hh % 12) + (ampm === 'PM' ? 12 : 0);
    return new Date(Date.UTC(year, mon, day, hh, mm, ss, ms) - off * 60000);
  }

  const localFmt = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
  });
  const utc = (d) => d.toISOString().replace('T', ' ').replace('Z', ' UTC');

  function showWindow() {
    const parts = [];
    for (const name of ['from', 'to']) {
      const input = form.elements[name], v = input.value.trim();
      input.classList.remove('bad');
      if (!v) { parts.push(name + ': ' + (name === 'from' ? 'the beginning' : 'no end')); continue; }
      const d = parseTime(v);
      if (!d) { parts.push(name + ': "' + v + '" (hepvault will say whether it reads it)'); continue; }
      parts.push(name + ': ' + utc(d) + ' = ' + localFmt.format(d) + ' (this browser)');
    }
    $('#window-shown').textContent = parts.join('  ·  ');
  }

  // ---- routing ----
  function route() {
    const h = location.hash.slice(1), i = h.indexOf('?');
    return { name: (i < 0 ? h : h.slice(0, i)) || '', q: new URLSearchParams(i < 0 ? '' : h.slice(i + 1)) };
  }
  const href = (name, q) => '#' + name + (String(q) ? '?' + q : '');

  function fillForm(q, view) {
    for (const el of form.querySelectorAll('input[name]')) {
      if (el.type === 'radio') el.checked = el.value === view;
      else el.value = q.get(el.name) || '';
    }
    for (const el of form.querySelectorAll('[data-only]')) el.hidden = el.dataset.only !== view;
    showWindow();
  }

  function formQuery() {
    const q = new URLSearchParams(), view = form.elements.view.value;
    for (const name of PARAMS[view]) {
      const el = form.elements[name];
      if (el && el.value.trim()) q.set(name, el.value.trim());
    }
    return { view, q };
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const { view, q } = formQuery();
    const h = href(view, q);
    if (location.hash === h) render(); else location.hash = h;
  });
  form.addEventListener('input', showWindow);
  form.addEventListener('change', (ev) => {
    if (ev.target.name === 'view') for (const el of form.querySelectorAll('[data-only]')) el.hidden = el.dataset.only !== ev.target.value;
  });
  window.addEventListener('hashchange', render);

  let seq = 0; // the render in charge; an older one's answers are dropped

  async function render() {
    const my = ++seq, { name, q } = route();
    say('');
    try {
      if (name === 'call') {
        fillForm(q, q.get('list') || 'calls');
        await showCall(q, my);
      } else if (name === 'calls' || name === 'packets') {
        fillForm(q, name);
        await showList(name, q, my);
      } else {
        fillForm(q, 'calls');
      }
    } catch (err) {
      if (my !== seq) return;
      say(err.message, true);
      const m = /^(from|to):/.exec(err.message);
      if (m) form.elements[m[1]].classList.add('bad');
      main.innerHTML = '';
    }
  }

  // ---- the listings ----
  const time = (s) => (s ? s.slice(0, 10) + ' ' + s.slice(11, 23) : '');
  const host = (ip, port) => (ip.includes(':') ? '[' + ip + ']' : ip) + ':' + port;
  const num = (v, digits) => (v == null ? '' : v.toFixed(digits));

  const COLUMNS = {
    packets: '<col style="width:14em"><col style="width:13em"><col style="width:13em"><col style="width:4em"><col style="width:6em"><col><col style="width:22%">',
    calls: '<col style="width:14em"><col style="width:7em"><col style="width:6em"><col><col><col><col style="width:18em"><col style="width:12em"><col style="width:5em"><col style="width:5em"><col style="width:4em">',
  };
  const HEAD = {
    packets: ['Time (UTC)', 'Source', 'Destination', 'Proto', 'Class', 'Message', 'Call-ID'],
    calls: ['Started (UTC)', 'State', 'Method', 'From', 'To', 'R-URI', 'Source → destination', 'Final', 'PDD ms', 'Dur s', 'Pkts'],
  };

  function packetRow(p, i) {
    const cls = p.kind === 'response' ? 'c-' + p.status_class : 'k-' + p.kind;
    const what = p.kind === 'response' ? p.status_class : p.kind;
    return '<tr data-i="' + i + '"><td class="t">' + time(p.captured_at) + '</td><td class="mono">' + esc(host(p.src_ip, p.src_port)) +
      '</td><td class="mono">' + esc(host(p.dst_ip, p.dst_port)) + '</td><td>' + esc(p.transport) +
      '</td><td><span class="badge ' + esc(cls) + '">' + esc(what) + '</span></td><td>' + esc(p.summary) +
      '</td><td class="mono" title="' + esc(p.call_id) + '">' + esc(p.call_id) + '</td></tr>';
  }

  function callRow(c, i) {
    const fin = c.final_status == null ? '' : c.final_status + ' ' + (c.final_reason || '');
    return '<tr data-i="' + i + '" data-id="' + esc(c.call_id) + '"><td class="t">' + time(c.started_at) + '</td><td><span class="badge state s-' + esc(c.state) + '">' +
      esc(c.state) + '</span></td><td>' + esc(c.method) + '</td><td>' + esc(c.from_user) + '</td><td>' + esc(c.to_user) +
      '</td><td>' + esc(c.ruri_user) + '</td><td class="mono">' + esc((c.src_ip || '') + ' → ' + (c.dst_ip || '')) +
      '</td><td title="' + esc(fin) + '">' + esc(fin) + '</td><td class="num">' + num(c.pdd_ms, 0) + '</td><td class="num">' +
      num(c.duration_s, 1) + '</td><td class="num">' + c.packets + '</td></tr>';
  }

  async function showList(view, q, my) {
    const p = new URLSearchParams();
    for (const name of PARAMS[view]) if (q.get(name)) p.set(name, q.get(name));
    if (!p.has('limit')) p.set('limit', LIMIT[view]);
    main.innerHTML = '<p class="hint">Searching…</p>';
    const path = view === 'calls' ? '/api/v1/calls?' : '/api/v1/packets?';
    const body = await apiJSON(path + p);
    if (my !== seq) return;
    const rows = view === 'calls' ? body.calls : body.packets;
    const rowHTML = view === 'calls' ? callRow : packetRow;
    main.innerHTML = '<p class="hint" id="count"></p><div id="scroller" class="scroller"><table id="list" class="' + view + '"><colgroup>' +
      COLUMNS[view] + '</colgroup><thead><tr>' + HEAD[view].map((h) => '<th>' + h + '</th>').join('') + '</tr></thead><tbody></tbody></table></div>' +
      '<p class="more"><button id="more" hidden>More</button></p>';
    const tbody = main.querySelector('tbody'), more = $('#more'), scroller = $('#scroller'), table = $('#list');
    const cols = HEAD[view].length;
    let next = body.next, rowH = 22, drawn = '';
    // Only the rows in sight (and a margin) are in the DOM, padded above
    // and below to the list's full height: a table of 10,000 rows is laid
    // out again whole at every change, one of 60 is not.
    const pad = (n) => (n > 0 ? '<tr class="pad"><td colspan="' + cols + '" style="height:' + n * rowH + 'px"></td></tr>' : '');
    const draw = (force) => {
      const first = Math.max(0, Math.floor(scroller.scrollTop / rowH) - 30);
      const last = Math.min(rows.length, Math.ceil((scroller.scrollTop + (scroller.clientHeight || 800)) / rowH) + 30);
      const key = first + ':' + last + ':' + rows.length;
      if (!force && key === drawn) return;
      drawn = key;
      const html = [pad(first)];
      for (let i = first; i < last; i++) html.push(rowHTML(rows[i], i));
      html.push(pad(rows.length - last));
      tbody.innerHTML = html.join('');
      // The padding is only right at the rows' real height: measure it once.
      const tr = tbody.querySelector('tr[data-i]'), h = tr && tr.getBoundingClientRect().height;
      if (h && Math.abs(h - rowH) > 0.01) { rowH = h; draw(true); }
    };
    let pending = false;
    scroller.onscroll = () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; draw(false); });
    };
    const add = () => {
      table.dataset.rows = rows.length;
      $('#count').textContent = rows.length + (view === 'calls' ? ' calls' : ' packets') + (next ? '; more with the button at the end' : '');
      more.hidden = !next;
      draw(true);
    };
    add();
    more.onclick = async () => {
      more.disabled = true;
      try {
        p.set('cursor', next);
        const b = await apiJSON(path + p);
        const list = view === 'calls' ? b.calls : b.packets;
        next = b.next;
        for (const r of list) rows.push(r);
        add();
      } catch (err) {
        say(err.message, true);
      } finally {
        more.disabled = false;
      }
    };
    tbody.onclick = (ev) => {
      const tr = ev.target.closest('tr[data-i]');
      if (!tr) return;
      const r = rows[+tr.dataset.i], cq = new URLSearchParams(q);
      if (!r.call_id) return;
      cq.set('id', r.call_id);
      cq.set('list', view);
      if (view === 'calls' && r.legs && r.legs.length) cq.set('legs', r.legs.join(','));
      location.hash = href('call', cq);
    };
  }

  // ---- a call: its ladder, its raw messages, its pcap ----

  // label is internal/callflow.Label: what a message's arrow says.
  function label(p) {
    let s;
    if (p.kind === 'request') s = p.method;
    else if (p.kind === 'response') s = p.status_code + (p.reason ? ' ' + p.reason : '');
    else return 'invalid';
    return hasSDP(p) ? s + ' (SDP)' : s;
  }

  function hasSDP(p) {
    const ct = (p.content_type || '').toLowerCase();
    if (ct.startsWith('application/sdp')) return true;
    if (!ct.startsWith('multipart/')) return false;
    const i = p.raw.indexOf('\r\n\r\n');
    return i >= 0 && p.raw.slice(i + 4).toLowerCase().includes('application/sdp');
  }

  // byTime is internal/callflow.Sort: capture time, then id. API times are
  // all UTC with microseconds, so they compare as strings.
  const byTime = (a, b) => (a.captured_at < b.captured_at ? -1 : a.captured_at > b.captured_at ? 1 : a.id - b.id);

  async function showCall(q, my) {
    const id = q.get('id') || '';
    main.innerHTML = '<p class="hint">Loading the call…</p>';
    // The legs: the store's (legs=true gives their packets too), and those
    // a link names beside them. alone=1 shows the call by itself.
    const alone = q.get('alone') === '1';
    const body = await apiJSON('/api/v1/calls/' + encodeURIComponent(id) + (alone ? '' : '?legs=true'));
    const found = alone ? [] : (body.legs || []).slice();
    const legOf = new Map([[id, 0]]);
    found.forEach((l, i) => legOf.set(l, i + 1));
    const pkts = body.packets.map((p) => Object.assign(p, { leg: legOf.get(p.call_id) || 0 }));
    const seen = new Set(pkts.map((p) => p.id));
    const named = alone ? [] : (q.get('legs') || '').split(',').filter((l) => l && !legOf.has(l));
    for (const leg of named) {
      try {
        const b = await apiJSON('/api/v1/calls/' + encodeURIComponent(leg));
        found.push(leg);
        legOf.set(leg, found.length);
        for (const p of b.packets) if (!seen.has(p.id)) { seen.add(p.id); pkts.push(Object.assign(p, { leg: found.length })); }
      } catch (err) {
        if (err.status !== 404) throw err; // a link naming no stored call
      }
    }
    if (my !== seq) return;
    pkts.sort(byTime);

    const back = new URLSearchParams(q), list = q.get('list') || 'calls';
    ['id', 'legs', 'msg', 'list', 'alone'].forEach((k) => back.delete(k));
    const toggle = new URLSearchParams(q);
    toggle.delete('msg');
    if (alone) toggle.delete('alone'); else toggle.set('alone', '1');
    const withLegs = !alone && body.legs && body.legs.length > 0;
    const pcap = '/api/v1/calls/' + encodeURIComponent(id) + '?' + (withLegs ? 'legs=true&' : '') + 'format=pcap';
    const fileName = 'call-' + id.slice(0, 100).replace(/[^A-Za-z0-9._-]/g, '_') + (withLegs ? '-legs' : '') + '.pcap';
    main.innerHTML = '<div class="callhead"><a href="' + esc(href(list, back)) + '" id="back">← ' + esc(list) + '</a><h2>Call-ID <span id="call-id">' +
      esc(id) + '</span></h2>' + (found.length ? '<span>legs: ' + found.map((l) => '<span class="mono">' + esc(l) + '</span>').join(', ') + '</span>' : '') +
      (alone || (body.legs && body.legs.length) ? '<a id="legs-toggle" href="' + esc(href('call', toggle)) + '">' + (alone ? 'with its legs' : 'this leg alone') + '</a>' : '') +
      '<span>' + pkts.length + ' messages</span><a id="pcap" href="' + esc(pcap) + '" download="' + esc(fileName) + '">Download pcap</a>' +
      '<span class="hint">click an arrow to read its message</span></div><div class="callbody"><div class="ladder-wrap">' + ladder(pkts) +
      '</div><aside id="recording" hidden></aside></div><pre id="raw" hidden></pre>';
    showRecording(id, pkts, my);

    $('#pcap').onclick = async (ev) => {
      // A link cannot send the token; fetch the file and hand it over.
      if (!token) return;
      ev.preventDefault();
      try {
        const r = await api(pcap);
        if (!r.ok) {
          let body = null;
          try { body = await r.json(); } catch (e) { /* not JSON */ }
          throw new Error('pcap: ' + ((body && body.error) || r.status + ' ' + r.statusText));
        }
        const a = document.createElement('a');
        a.href = URL.createObjectURL(await r.blob());
        a.download = fileName;
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(a.href), 60000);
      } catch (err) {
        say(err.message, true);
      }
    };
    const svg = main.querySelector('svg');
    const open = (i) => {
      const p = pkts[i], raw = $('#raw');
      if (!p) return;
      for (const g of svg.querySelectorAll('.msg.sel')) g.classList.remove('sel');
      svg.querySelector('.msg[data-i="' + i + '"]').classList.add('sel');
      raw.hidden = false;
      raw.textContent = p.raw;
      raw.dataset.i = i;
    };
    svg.addEventListener('click', (ev) => {
      const g = ev.target.closest('.msg');
      if (!g) return;
      open(+g.dataset.i);
      // The opened message goes into the URL, without reloading the call.
      const nq = new URLSearchParams(q);
      nq.set('msg', g.dataset.i);
      history.replaceState(null, '', href('call', nq));
    });
    if (q.has('msg')) open(+q.get('msg'));
  }

  // showRecording fills the aside beside the ladder with the SIPREC
  // recordings of call id (GET /api/v1/recordings over the call's time: a
  // recording starts while its call is up), or, when id is a recording
  // session itself, with the call it records.
  async function showRecording(id, pkts, my) {
    const aside = $('#recording');
    if (!aside || !pkts.length) return;
    const from = pkts[0].captured_at, last = pkts[pkts.length - 1].captured_at;
    const to = new Date(Date.parse(last) + 2000).toISOString();
    let recs;
    try {
      const b = await apiJSON('/api/v1/recordings?' + new URLSearchParams({ from: from, to: to, limit: '1000' }));
      recs = b.recordings;
    } catch (err) {
      return; // a server without recordings: the ladder alone
    }
    if (my !== seq) return;
    const own = recs.filter((r) => r.call_id === id);
    const mine = recs.filter((r) => (r.recorded_call_ids || []).includes(id));
    const callLink = (cid) => '<a class="mono" href="' + esc(href('call', new URLSearchParams({ id: cid }))) + '">' + esc(cid) + '</a>';
    const badge = (st) => '<span class="badge s-' + esc(st === 'ended' || st === 'recording' ? 'answered' : st) + '">' + esc(st) + '</span>';
    const one = (r, records) =>
      '<div class="rec"><div>' + badge(r.state) + ' ' +
      (records ? 'records ' + (r.recorded_call_ids.length ? r.recorded_call_ids.map(callLink).join(', ') : 'no call found') :
        'recording <span class="rec-call">' + callLink(r.call_id) + '</span>') +
      (r.linked_by ? ' <span class="hint">(by ' + esc(r.linked_by) + ')</span>' : '') + '</div>' +
      '<div class="hint">' + esc(r.started_at || '?') + ' → ' + esc(r.ended_at || '…') + '</div>' +
      '<h4>Participants</h4><ul class="participants">' +
      r.participants.map((p) => '<li>' + esc(p.name || '') + ' <span class="mono">' + esc(p.aor) + '</span></li>').join('') + '</ul>' +
      '<h4>Streams</h4><ul class="streams">' +
      r.streams.map((st) => '<li>label <b>' + esc(st.label) + '</b> <span class="mono hint">' + esc(st.stream_id) + '</span></li>').join('') + '</ul>' +
      (r.metadata_errors ? '<div class="hint">' + r.metadata_errors + ' metadata part(s) could not be read</div>' : '') + '</div>';
    if (own.length) {
      aside.innerHTML = '<h3>Recording session (SIPREC)</h3>' + own.map((r) => one(r, true)).join('');
    } else if (mine.length) {
      aside.innerHTML = '<h3>Recorded</h3>' + mine.map((r) => one(r, false)).join('');
    } else {
      aside.innerHTML = '<h3>Recording</h3><p class="hint" id="not-recorded">No recording of this call was found.</p>';
    }
    aside.hidden = false;
  }

  // ladder draws pkts (in order) as an SVG: one column per host (ip:port) in
  // the order hosts first appear, one arrow per message, labelled.
  function ladder(pkts) {
    const hosts = [], col = new Map();
    for (const p of pkts) {
      for (const h of [host(p.src_ip, p.src_port), host(p.dst_ip, p.dst_port)]) {
        if (!col.has(h)) { col.set(h, hosts.length); hosts.push(h); }
      }
    }
    const gutter = 190, step = 210, top = 44, rowH = 28;
    const x = (i) => gutter + 90 + i * step;
    const width = x(hosts.length - 1) + 150, height = top + (pkts.length + 1) * rowH;
    const out = ['<svg class="ladder" xmlns="http://www.w3.org/2000/svg" width="' + width + '" height="' + height + '">',
      '<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">' +
      '<path d="M0,0 L10,5 L0,10 z" fill="#37474f"/></marker></defs>'];
    hosts.forEach((h, i) => {
      out.push('<text class="host" x="' + x(i) + '" y="20" text-anchor="middle">' + esc(h) + '</text>');
      out.push('<line class="life" x1="' + x(i) + '" y1="28" x2="' + x(i) + '" y2="' + (height - 4) + '"/>');
    });
    let prev = null, day = '';
    pkts.forEach((p, i) => {
      const y = top + (i + 1) * rowH, src = host(p.src_ip, p.src_port), dst = host(p.dst_ip, p.dst_port);
      const a = x(col.get(src)), b = x(col.get(dst)), t = new Date(p.captured_at);
      let when = p.captured_at.slice(11, 23);
      if (p.captured_at.slice(0, 10) !== day) { day = p.captured_at.slice(0, 10); when = day + ' ' + when; }
      const delta = prev == null ? '' : '+' + ((t - prev) / 1000).toFixed(3);
      prev = t;
      const kind = p.kind === 'response' ? 'resp' : 'req';
      out.push('<g class="msg ' + kind + ' leg' + Math.min(p.leg, 2) + '" data-i="' + i + '" data-src="' + esc(src) + '" data-dst="' + esc(dst) + '">');
      out.push('<rect class="hit" x="0" y="' + (y - rowH + 6) + '" width="' + width + '" height="' + rowH + '"/>');
      out.push('<text class="time" x="4" y="' + (y + 4) + '">' + esc(when) + '</text>');
      out.push('<text class="time" x="' + (gutter + 20) + '" y="' + (y + 4) + '" text-anchor="end">' + delta + '</text>');
      if (a === b) {
        // A message a host sends itself: a loop at its column.
        out.push('<path d="M' + a + ',' + (y - 8) + ' h36 v12 h-34" marker-end="url(#head)"/>');
        out.push('<text class="label" x="' + (a + 42) + '" y="' + (y + 2) + '">' + esc(label(p)) + '</text>');
      } else {
        out.push('<line x1="' + a + '" y1="' + y + '" x2="' + b + '" y2="' + y + '" marker-end="url(#head)"/>');
        out.push('<text class="label" x="' + (a + b) / 2 + '" y="' + (y - 5) + '" text-anchor="middle">' + esc(label(p)) + '</text>');
      }
      out.push('<title>' + esc(p.captured_at + ' ' + src + ' → ' + dst + ' ' + p.summary) + '</title></g>');
    });
    out.push('</svg>');
    return out.join('');
  }

  render();
})();
