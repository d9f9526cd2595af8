// The agent desk, part 2 of 4: the open ticket (the conversation with internal notes, the
// customer's history and rating, routing evidence folded) and its actions: claim, assign,
// reply or note (one box, two modes), resolve (with a confirm from the keyboard), relabel.
(function () {
  'use strict';

  var Desk = window.Desk;
  var el = Desk.el, make = Desk.make, text = Desk.text;
  Desk.current = null;

  Desk.loadTicket = function (fresh) {
    if (Desk.selected == null) return Promise.resolve();
    var id = Desk.selected;
    return Desk.api('GET', '/v1/tickets/' + encodeURIComponent(id)).then(function (t) {
      if (String(Desk.selected) !== String(id)) return;
      show(t, fresh);
    }).catch(function (e) {
      if (e.status !== 404 || String(Desk.selected) !== String(id)) { Desk.toast(e.message, 'error'); return; }
      Desk.selected = null;
      Desk.current = null;
      el('ticket-body').hidden = true;
      el('ticket-empty').hidden = false;
      Desk.toast('Ticket #' + id + ' no longer exists.', 'error');
    });
  };

  function pct(c) { return Math.round((Number(c) || 0) * 100) + '%'; }
  function fromLabel(from) {
    if (!from) return 'Unknown';
    if (from.kind === 'customer') return 'Customer';
    if (from.kind === 'bot') return 'Bot';
    if (from.kind === 'agent') return (from.name || 'Agent') + ' (agent)';
    return String(from.kind);
  }
  function setPick(prefix, pick) {
    text(el('t-' + prefix), pick ? pick.id : 'none');
    text(el('t-' + prefix + '-conf'), pick ? pct(pick.confidence) : '');
  }

  // The relabel and filter lists, from the catalog.
  Desk.fillLabels = function () {
    Desk.fillSelect(el('relabel-intent'), Desk.catalog.intents || [], 1);
    Desk.fillSelect(el('relabel-persona'), Desk.catalog.personas || [], 1);
  };

  function fillAssign(t) {
    var select = el('assign-select');
    var team = (Desk.catalog.teams || []).filter(function (x) { return x.id === t.team; })[0];
    var names = ((team && team.agents) || []).slice();
    if (t.assigned_to && names.indexOf(t.assigned_to) < 0) names.push(t.assigned_to);
    select.textContent = '';
    var none = make('option', '', t.assigned_to ? '(assigned)' : 'Unassigned');
    none.value = '';
    none.disabled = !!t.assigned_to;
    select.appendChild(none);
    names.forEach(function (n) {
      var me = Desk.catalog.you && Desk.catalog.you.name === n;
      var o = make('option', '', me ? n + ' (me)' : n);
      o.value = n;
      select.appendChild(o);
    });
    select.value = t.assigned_to || '';
    select.disabled = t.status === 'resolved' || !names.length;
  }

  function line(kind, who, at, body, mark) {
    var li = make('li', 'line ' + kind);
    var from = make('div', 'from');
    from.appendChild(make('b', '', who));
    if (mark) from.appendChild(make('span', 'note-mark', mark));
    from.appendChild(Desk.timeNode(at, false));
    li.appendChild(from);
    if (kind === 'bot') {
      // The bot's answers are markdown, shown as the customer saw them.
      var rendered = make('div', 'text md');
      window.PersonabotMarkdown.render(rendered, body);
      li.appendChild(rendered);
    } else {
      li.appendChild(make('div', 'text', body));
    }
    return li;
  }

  function show(t, fresh) {
    Desk.current = t;
    el('ticket-empty').hidden = true;
    el('ticket-body').hidden = false;

    text(el('t-title'), 'Ticket #' + t.id);
    var badge = el('t-status');
    badge.className = 'badge ' + t.status;
    text(badge, t.status);
    el('t-priority').hidden = t.priority !== 'high';
    var due = Desk.dueText(t);
    el('t-overdue').hidden = !(due && due.late);
    var meta = Desk.teamName(t.team) + ' team · via ' + t.channel + ' · opened ' + new Date(t.created_ms).toLocaleString();
    if (t.claimed_by) meta += ' · claimed by ' + t.claimed_by;
    if (t.resolved_by) meta += ' · resolved by ' + t.resolved_by;
    text(el('t-meta'), meta);

    text(el('t-assignee'), t.assigned_to || t.claimed_by || 'nobody yet');
    text(el('t-prio-text'), t.priority === 'high' ? 'high (frustrated customer)' : 'normal');
    var dueNode = el('t-due');
    text(dueNode, due ? due.text : (t.status === 'resolved' ? 'resolved' : 'no target'));
    dueNode.className = due && due.late ? 'due late' : '';
    var contact = typeof t.contact === 'string' ? t.contact : '';
    var link = el('t-contact-link');
    text(link, contact || '—');
    if (/^[^\s@<>"]+@[^\s@<>"]+$/.test(contact)) link.href = 'mailto:' + contact;
    else link.removeAttribute('href');
    el('t-contact').setAttribute('data-empty', contact ? 'false' : 'true');

    el('claim').disabled = t.status !== 'open';
    el('resolve').disabled = t.status === 'resolved';
    el('reply-send').disabled = t.status === 'resolved' && mode === 'reply';
    fillAssign(t);

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

    // The conversation and the internal notes, in time order.
    var items = (t.transcript || []).map(function (l) {
      var kind = l.from && l.from.kind ? l.from.kind : 'customer';
      return { at: l.at_ms, node: line(kind, fromLabel(l.from), l.at_ms, l.text) };
    }).concat((t.notes || []).map(function (n) {
      return { at: n.at_ms, node: line('note', n.by, n.at_ms, n.text, 'Internal note — not sent to the customer') };
    }));
    items.sort(function (a, b) { return a.at - b.at; });
    var tr = el('t-transcript');
    tr.textContent = '';
    items.forEach(function (i) { tr.appendChild(i.node); });

    var csat = t.csat;
    el('t-csat').hidden = !csat;
    if (csat) {
      var r = Math.max(0, Math.min(5, Number(csat.rating) || 0));
      text(el('t-csat-stars'), '★★★★★'.slice(0, r) + '☆☆☆☆☆'.slice(0, 5 - r));
      text(el('t-csat-rating'), r + ' / 5');
      text(el('t-csat-comment'), csat.comment || '');
    }

    var past = el('t-customer');
    past.textContent = '';
    if (!t.history || !t.history.length) past.appendChild(make('li', 'empty', 'No earlier tickets or conversations.'));
    (t.history || []).forEach(function (h) {
      var li = make('li');
      var what = (h.kind === 'ticket' ? 'Ticket #' + h.id : 'Conversation') + ' · ' + h.status;
      var sub = [h.intent || 'no intent', h.channel, new Date(h.at_ms).toLocaleDateString()].join(' · ');
      var box;
      if (h.kind === 'ticket') {
        box = make('button');
        box.type = 'button';
        box.setAttribute('data-ticket-id', String(h.id));
        box.addEventListener('click', function () { Desk.select(h.id); });
      } else {
        box = make('div', 'conv');
      }
      box.appendChild(make('span', '', what));
      box.appendChild(make('small', '', sub));
      li.appendChild(box);
      past.appendChild(li);
    });

    var rel = el('t-relabels');
    rel.textContent = '';
    (t.relabels || []).forEach(function (r) {
      var parts = [];
      if (r.intent) parts.push('intent → ' + r.intent);
      if (r.persona) parts.push('persona → ' + r.persona);
      rel.appendChild(make('li', '', parts.join(', ') + ' by ' + r.by + ' (' + new Date(r.at_ms).toLocaleString() + ')'));
    });
    var audit = el('t-audit');
    audit.textContent = '';
    (t.audit || []).forEach(function (a) {
      var what = a.action.replace(/_/g, ' ') + ' by ' + a.who + (a.via === 'cli' ? ' (command line)' : '');
      audit.appendChild(make('li', '', what + ' (' + new Date(a.at_ms).toLocaleString() + ')'));
    });
    if (fresh) {
      el('relabel-intent').value = '';
      el('relabel-persona').value = '';
      el('ticket').scrollTop = 0;
    }
  }

  function act(verb, body, done) {
    if (!Desk.current) return Promise.reject(new Error('No ticket is open.'));
    var id = Desk.current.id;
    return Desk.api('POST', '/v1/tickets/' + id + '/' + verb, body).then(function () {
      Desk.toast(done);
      return Promise.all([Desk.loadTicket(false), Desk.loadList()]);
    }).catch(function (e) { Desk.toast(e.message, 'error'); throw e; });
  }

  function claim() {
    if (!Desk.current || Desk.current.status !== 'open') return;
    var b = el('claim'); b.disabled = true;
    act('claim', {}, 'Ticket #' + Desk.current.id + ' claimed. The bot stays quiet until you resolve it.')
      .catch(function () { b.disabled = false; });
  }
  function resolve() {
    if (!Desk.current || Desk.current.status === 'resolved') return;
    var b = el('resolve'); b.disabled = true;
    act('resolve', {}, 'Ticket #' + Desk.current.id + ' resolved. The bot answers this customer again.')
      .catch(function () { b.disabled = false; });
  }
  el('claim').addEventListener('click', claim);
  el('resolve').addEventListener('click', resolve);
  el('assign-select').addEventListener('change', function () {
    var to = this.value;
    if (!to) return;
    act('assign', { agent: to }, 'Ticket #' + Desk.current.id + ' assigned to ' + to + '.').catch(function () { /* shown */ });
  });

  // ---- one box, two modes: a reply to the customer, or an internal note ----
  var mode = 'reply';
  var area = el('reply-text');
  function setMode(next) {
    mode = next;
    var note = next === 'note';
    el('reply-form').classList.toggle('note-mode', note);
    el('mode-reply').setAttribute('aria-pressed', String(!note));
    el('mode-note').setAttribute('aria-pressed', String(note));
    text(el('reply-label'), note ? 'Internal note (agents only)' : 'Reply to the customer');
    area.placeholder = note ? 'Internal note — not sent to the customer…' : 'Reply to the customer… ( / for saved replies)';
    text(el('reply-hint'), note ? 'Only agents see notes; the customer never does. Ctrl+Enter saves.' : 'The customer sees it in their chat. Ctrl+Enter sends.');
    text(el('reply-send'), note ? 'Add note' : 'Send reply');
    el('reply-send').disabled = mode === 'reply' && !!Desk.current && Desk.current.status === 'resolved';
    if (Desk.closePicker) Desk.closePicker();
  }
  Desk.mode = function () { return mode; };
  el('mode-reply').addEventListener('click', function () { setMode('reply'); area.focus(); });
  el('mode-note').addEventListener('click', function () { setMode('note'); area.focus(); });

  el('reply-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var msg = area.value.trim();
    if (!msg) { Desk.toast(mode === 'note' ? 'Write the note first.' : 'Write a reply first.', 'error'); area.focus(); return; }
    var b = el('reply-send'); b.disabled = true;
    var note = mode === 'note';
    act(note ? 'note' : 'reply', { text: msg }, note ? 'Internal note added (agents only).' : 'Reply sent to the customer.')
      .then(function () { area.value = ''; })
      .catch(function () { /* shown */ })
      .then(function () { b.disabled = !Desk.current || (mode === 'reply' && Desk.current.status === 'resolved'); area.focus(); });
  });
  area.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      if (el('reply-form').requestSubmit) el('reply-form').requestSubmit(); else el('reply-send').click();
    }
  });

  el('relabel-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var intent = el('relabel-intent').value, persona = el('relabel-persona').value;
    if (!intent && !persona) { Desk.toast('Pick an intent, a persona, or both.', 'error'); return; }
    var body = {};
    if (intent) body.intent = intent;
    if (persona) body.persona = persona;
    act('relabel', body, 'Labels saved as ground truth.').then(function () {
      el('relabel-intent').value = '';
      el('relabel-persona').value = '';
    }).catch(function () { /* shown */ });
  });

  Desk.actions = {
    claim: claim,
    compose: function (which) {
      if (!Desk.current) return;
      setMode(which);
      area.focus();
    },
    confirmResolve: function () {
      if (!Desk.current || Desk.current.status === 'resolved') return;
      Desk.toast('Resolve ticket #' + Desk.current.id + '?', 'info', [['Resolve', resolve], ['Cancel', function () { }]]);
    }
  };
})();
