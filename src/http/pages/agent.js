(function () {
  'use strict';

  var REFRESH_MS = 5000;
  var el = function (id) { return document.getElementById(id); };
  var teamFilter = el('team-filter');
  var statusFilter = el('status-filter');
  var list = el('tickets');

  // ---- local settings ----
  function local(key, fallback) {
    try { var v = window.localStorage.getItem(key); return v === null ? fallback : v; } catch (e) { return fallback; }
  }
  function setLocal(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode */ }
  }

  var teams = {};
  try { teams = JSON.parse(local('hearth.agent.teams', '{}')) || {}; } catch (e) { teams = {}; }
  var ids = { intent: {}, persona: {} };

  statusFilter.value = local('hearth.agent.status', 'active');
  if (!statusFilter.value) statusFilter.value = 'active';

  // ---- helpers ----
  function text(node, value) { node.textContent = value == null ? '' : String(value); return node; }
  function make(tag, className, value) {
    var n = document.createElement(tag);
    if (className) n.className = className;
    if (value !== undefined) text(n, value);
    return n;
  }
  function pct(c) { return Math.round((Number(c) || 0) * 100) + '%'; }
  function ago(ms) {
    var s = Math.max(0, (Date.now() - ms) / 1000);
    if (s < 45) return 'just now';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return new Date(ms).toLocaleDateString();
  }
  function timeNode(ms, relative) {
    var t = make('time');
    t.dateTime = new Date(ms).toISOString();
    t.title = new Date(ms).toLocaleString();
    text(t, relative ? ago(ms) : new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
    return t;
  }

  var statusTimer = null;
  function status(message, kind) {
    var s = el('agent-status');
    s.className = kind || 'ok';
    s.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    text(s, message);
    s.hidden = false;
    clearTimeout(statusTimer);
    statusTimer = setTimeout(function () { s.hidden = true; }, kind === 'error' ? 8000 : 3000);
  }

  function api(method, url, body) {
    var init = { method: method, headers: { 'Accept': 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (res) {
      if (res.status === 401) {
        window.location.assign('/agent');
        throw new Error('Your session has ended; please sign in again.');
      }
      return res.text().then(function (body) {
        var data = null;
        try { data = body ? JSON.parse(body) : null; } catch (e) { data = null; }
        if (!res.ok) {
          var err = new Error((data && data.error) || ('The server answered ' + res.status + '.'));
          err.status = res.status;
          throw err;
        }
        return data;
      });
    });
  }

  // ---- known ids (for the filters and the relabel suggestions) ----
  function learn(t) {
    if (t.team) teams[t.team] = t.team_name || teams[t.team] || t.team;
    if (t.intent && t.intent.id) ids.intent[t.intent.id] = true;
    if (t.persona && t.persona.id) ids.persona[t.persona.id] = true;
    (t.evidence || []).forEach(function (e) {
      var m = /^(intent|persona):(.+)$/.exec(e.target || '');
      if (m) ids[m[1]][m[2]] = true;
    });
    (t.relabels || []).forEach(function (r) {
      if (r.intent) ids.intent[r.intent] = true;
      if (r.persona) ids.persona[r.persona] = true;
    });
  }
  function fillDatalist(node, set) {
    var keys = Object.keys(set).sort();
    if (node.options.length === keys.length) return;
    node.textContent = '';
    keys.forEach(function (k) { var o = make('option'); o.value = k; node.appendChild(o); });
  }
  function fillTeams() {
    setLocal('hearth.agent.teams', JSON.stringify(teams));
    var current = teamFilter.value || local('hearth.agent.team', '');
    var keys = Object.keys(teams).sort();
    if (teamFilter.options.length === keys.length + 1 && keys.every(function (k, i) {
      return teamFilter.options[i + 1].value === k && teamFilter.options[i + 1].textContent === teams[k];
    })) return;
    while (teamFilter.options.length > 1) teamFilter.remove(1);
    keys.forEach(function (k) {
      var o = make('option', '', teams[k]);
      o.value = k;
      teamFilter.appendChild(o);
    });
    teamFilter.value = keys.indexOf(current) >= 0 ? current : '';
  }

  // ---- the queue ----
  var selected = null;
  var tickets = [];
  // "active" is open and claimed: two requests, merged newest first.
  function loadList() {
    var team = teamFilter.value ? '&team=' + encodeURIComponent(teamFilter.value) : '';
    var statuses = statusFilter.value === 'active' ? ['open', 'claimed'] : [statusFilter.value];
    return Promise.all(statuses.map(function (s) {
      return api('GET', '/v1/tickets?status=' + encodeURIComponent(s) + team);
    })).then(function (answers) {
      tickets = [];
      answers.forEach(function (data) { tickets = tickets.concat((data && data.tickets) || []); });
      tickets.sort(function (a, b) { return b.id - a.id; });
      tickets.forEach(learn);
      fillTeams();
      renderList();
      text(el('updated'), 'Updated ' + new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }));
    });
  }

  function renderList() {
    var focusedId = document.activeElement && document.activeElement.closest && document.activeElement.closest('#tickets li');
    focusedId = focusedId ? focusedId.getAttribute('data-ticket-id') : null;
    list.textContent = '';
    var n = tickets.length;
    text(el('count'), n === 1 ? '1 ticket' : n + ' tickets');
    if (!n) {
      list.appendChild(make('li', 'empty', 'No tickets match these filters.'));
      return;
    }
    tickets.forEach(function (t) {
      var li = make('li');
      li.setAttribute('data-ticket-id', String(t.id));
      if (String(t.id) === String(selected)) li.className = 'selected';
      var b = make('button');
      b.type = 'button';
      if (String(t.id) === String(selected)) b.setAttribute('aria-current', 'true');
      var top = make('span', 'row-top');
      top.appendChild(make('span', 'tid', '#' + t.id));
      top.appendChild(make('span', 'badge ' + t.status, t.status));
      if (t.priority === 'high') top.appendChild(make('span', 'badge high', 'high'));
      top.appendChild(make('span', 'team', t.team_name || t.team));
      top.appendChild(timeNode(t.updated_ms || t.created_ms, true));
      b.appendChild(top);
      b.appendChild(make('span', 'row-msg', t.first_message || '(no customer message)'));
      var tags = [t.persona ? t.persona.id : 'no persona', t.intent ? t.intent.id : 'no intent'];
      if (t.claimed_by) tags.push('claimed by ' + t.claimed_by);
      b.appendChild(make('span', 'row-tags', tags.join(' · ')));
      b.addEventListener('click', function () { select(t.id); });
      li.appendChild(b);
      list.appendChild(li);
      if (focusedId === String(t.id)) b.focus();
    });
  }

  // ---- one ticket ----
  var current = null;
  function select(id) {
    selected = id;
    try { history.replaceState(null, '', '#ticket-' + id); } catch (e) { /* ignore */ }
    renderList();
    return loadTicket(true);
  }

  function loadTicket(fresh) {
    if (selected == null) return Promise.resolve();
    var id = selected;
    return api('GET', '/v1/tickets/' + encodeURIComponent(id)).then(function (t) {
      if (String(selected) !== String(id)) return;
      showTicket(t, fresh);
    }).catch(function (e) {
      if (e.status !== 404 || String(selected) !== String(id)) throw e;
      selected = null;
      current = null;
      el('ticket-body').hidden = true;
      el('ticket-empty').hidden = false;
      status('Ticket #' + id + ' no longer exists.', 'error');
    });
  }

  function setPick(prefix, pick) {
    text(el('t-' + prefix), pick ? pick.id : 'none');
    text(el('t-' + prefix + '-conf'), pick ? pct(pick.confidence) : '');
    el('t-' + prefix + '-bar').style.width = pick ? pct(pick.confidence) : '0%';
  }

  function fromLabel(from) {
    if (!from) return 'Unknown';
    if (from.kind === 'customer') return 'Customer';
    if (from.kind === 'bot') return 'Bot';
    if (from.kind === 'agent') return (from.name || 'Agent') + ' (agent)';
    return String(from.kind);
  }

  function showTicket(t, fresh) {
    current = t;
    learn(t);
    fillDatalist(el('intent-ids'), ids.intent);
    fillDatalist(el('persona-ids'), ids.persona);
    el('ticket-empty').hidden = true;
    el('ticket-body').hidden = false;

    text(el('t-title'), 'Ticket #' + t.id);
    var badge = el('t-status');
    badge.className = 'badge ' + t.status;
    text(badge, t.status);
    var meta = (teams[t.team] || t.team) + ' team · via ' + t.channel + ' · opened ' + new Date(t.created_ms).toLocaleString();
    if (t.claimed_by) meta += ' · claimed by ' + t.claimed_by;
    if (t.resolved_by) meta += ' · resolved by ' + t.resolved_by;
    text(el('t-meta'), meta);
    // Set by the ticket JSON when the customer was frustrated, and when they left an email.
    el('t-priority').hidden = t.priority !== 'high';
    var contact = typeof t.contact === 'string' ? t.contact : '';
    var link = el('t-contact-link');
    text(link, contact);
    if (/^[^\s@<>"]+@[^\s@<>"]+$/.test(contact)) link.href = 'mailto:' + contact;
    else link.removeAttribute('href');
    el('t-contact').hidden = !contact;
    el('claim').disabled = t.status !== 'open';
    el('resolve').disabled = t.status === 'resolved';
    el('reply-send').disabled = t.status === 'resolved';

    setPick('persona', t.persona);
    setPick('intent', t.intent);
    text(el('t-reason'), t.reason || '—');

    var ev = el('t-evidence');
    ev.textContent = '';
    if (!t.evidence || !t.evidence.length) ev.appendChild(make('li', '', 'No matched terms'));
    (t.evidence || []).forEach(function (e) {
      var li = make('li', Number(e.weight) < 0 ? 'neg' : '');
      li.appendChild(make('span', 'term', e.term));
      li.appendChild(document.createTextNode(' '));
      li.appendChild(make('span', 'target', '→ ' + e.target));
      li.appendChild(document.createTextNode(' '));
      li.appendChild(make('span', 'weight', (Number(e.weight) >= 0 ? '+' : '') + Number(e.weight).toFixed(1)));
      ev.appendChild(li);
    });

    var tr = el('t-transcript');
    tr.textContent = '';
    (t.transcript || []).forEach(function (line) {
      var kind = line.from && line.from.kind ? line.from.kind : 'customer';
      var li = make('li', 'line ' + kind);
      var from = make('div', 'from');
      from.appendChild(make('b', '', fromLabel(line.from)));
      from.appendChild(timeNode(line.at_ms, false));
      li.appendChild(from);
      li.appendChild(make('div', 'text', line.text));
      tr.appendChild(li);
    });

    var rel = el('t-relabels');
    rel.textContent = '';
    (t.relabels || []).forEach(function (r) {
      var parts = [];
      if (r.intent) parts.push('intent → ' + r.intent);
      if (r.persona) parts.push('persona → ' + r.persona);
      rel.appendChild(make('li', '', parts.join(', ') + ' by ' + r.by + ' (' + new Date(r.at_ms).toLocaleString() + ')'));
    });
    // Who did what to this ticket, from the audit log (oldest first).
    var history = el('t-history');
    history.textContent = '';
    (t.audit || []).forEach(function (a) {
      var what = a.action.replace(/_/g, ' ') + ' by ' + a.who + (a.via === 'cli' ? ' (command line)' : '');
      history.appendChild(make('li', '', what + ' (' + new Date(a.at_ms).toLocaleString() + ')'));
    });
    var last = (t.relabels || []).slice(-1)[0] || {};
    el('relabel-intent').placeholder = last.intent || (t.intent ? t.intent.id : 'intent id');
    el('relabel-persona').placeholder = last.persona || (t.persona ? t.persona.id : 'persona id');
    if (fresh) {
      el('relabel-intent').value = '';
      el('relabel-persona').value = '';
      el('ticket').scrollTop = 0;
    }
  }

  function act(verb, body, done) {
    if (!current) return Promise.resolve();
    var id = current.id;
    return api('POST', '/v1/tickets/' + id + '/' + verb, body).then(function (t) {
      if (String(selected) === String(id)) showTicket(t, false);
      status(done);
      return loadList();
    }).catch(function (e) { status(e.message, 'error'); throw e; });
  }

  el('claim').addEventListener('click', function () {
    var b = this; b.disabled = true;
    act('claim', {}, 'Ticket claimed. The bot stays quiet in this conversation until you resolve it.')
      .catch(function () { b.disabled = false; });
  });
  el('resolve').addEventListener('click', function () {
    var b = this; b.disabled = true;
    act('resolve', {}, 'Ticket resolved. The bot answers this customer again.')
      .catch(function () { b.disabled = false; });
  });

  el('reply-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var area = el('reply-text');
    var msg = area.value.trim();
    if (!msg) { status('Write a reply first.', 'error'); area.focus(); return; }
    var b = el('reply-send'); b.disabled = true;
    act('reply', { text: msg }, 'Reply sent to the customer.')
      .then(function () { area.value = ''; })
      .catch(function () { /* shown */ })
      .then(function () { b.disabled = !current || current.status === 'resolved'; area.focus(); });
  });
  el('reply-text').addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      el('reply-form').requestSubmit ? el('reply-form').requestSubmit() : el('reply-send').click();
    }
  });

  el('relabel-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var intent = el('relabel-intent').value.trim();
    var persona = el('relabel-persona').value.trim();
    if (!intent && !persona) { status('Give an intent, a persona, or both.', 'error'); return; }
    var body = {};
    if (intent) body.intent = intent;
    if (persona) body.persona = persona;
    act('relabel', body, 'Labels saved as ground truth.').then(function () {
      el('relabel-intent').value = '';
      el('relabel-persona').value = '';
    }).catch(function () { /* shown */ });
  });

  teamFilter.addEventListener('change', function () { setLocal('hearth.agent.team', teamFilter.value); refresh(); });
  statusFilter.addEventListener('change', function () { setLocal('hearth.agent.status', statusFilter.value); refresh(); });

  var failures = 0;
  var timer = null;
  function refresh() {
    clearTimeout(timer);
    return Promise.all([loadList(), loadTicket(false)]).then(function () {
      failures = 0;
    }).catch(function (e) {
      failures += 1;
      if (failures === 1 || failures % 6 === 0) status('Could not refresh the queue: ' + e.message, 'error');
    }).then(function () {
      timer = setTimeout(refresh, REFRESH_MS);
    });
  }

  var m = /^#ticket-(\d+)$/.exec(window.location.hash);
  if (m) selected = Number(m[1]);
  var savedTeam = local('hearth.agent.team', '');
  fillTeams();
  if (savedTeam && teams[savedTeam]) teamFilter.value = savedTeam;
  // The catalog's teams, intents and personas, for the filters and the relabel suggestions.
  api('GET', '/v1/catalog').then(function (c) {
    (c.teams || []).forEach(function (t) { teams[t.id] = t.name; });
    (c.intents || []).forEach(function (i) { ids.intent[i.id] = true; });
    (c.personas || []).forEach(function (p) { ids.persona[p.id] = true; });
    // Actions are recorded under the signed-in account.
    if (c.you && c.you.name) el('agent-who').textContent = c.you.name;
    fillTeams();
    fillDatalist(el('intent-ids'), ids.intent);
    fillDatalist(el('persona-ids'), ids.persona);
  }).catch(function () { /* the queue still works; ids are learnt from tickets */ });
  refresh();
})();
