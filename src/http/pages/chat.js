(function () {
  'use strict';

  var POLL_MS = 2000;
  var KEY = 'hearth.chat.';
  var el = function (id) { return document.getElementById(id); };
  var messages = el('messages');
  var input = el('input');
  var sendButton = el('send');
  var banner = el('banner');
  var notice = el('notice');

  // ---- storage (sessionStorage; the page still works when it is unavailable) ----
  function load(name, fallback) {
    try {
      var raw = window.sessionStorage.getItem(KEY + name);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) { return fallback; }
  }
  function save(name, value) {
    try { window.sessionStorage.setItem(KEY + name, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }

  // The conversation and its visitor token are issued by the server with the first answer.
  var conversation, token, log, ticket, lastAgentMs;
  function restore() {
    conversation = load('conversation', null);
    token = load('token', null);
    if (typeof conversation !== 'string' || typeof token !== 'string') {
      conversation = null;
      token = null;
    }
    log = load('log', []);
    if (!Array.isArray(log)) log = [];
    ticket = load('ticket', null);
    lastAgentMs = Number(load('after', 0)) || 0;
  }
  function persist() {
    save('log', log.slice(-200));
    save('ticket', ticket);
    save('after', lastAgentMs);
  }

  // ---- rendering (server text only ever goes through textContent) ----
  function timeLabel(ms) {
    try {
      return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    } catch (e) { return ''; }
  }
  function scrollDown() { messages.scrollTop = messages.scrollHeight; }
  // Runs a change that makes the list shorter (the banner, a notice, a taller input box) and
  // keeps the newest message in view if the reader was there.
  function keepBottom(change) {
    var atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
    change();
    if (atBottom) scrollDown();
  }

  function render(entry) {
    var box = document.createElement('div');
    box.className = 'msg ' + entry.role;
    box.setAttribute('data-role', entry.role);
    if (entry.role === 'system') {
      box.textContent = entry.text;
      messages.appendChild(box);
      return box;
    }
    var who = document.createElement('div');
    who.className = 'who';
    var name = document.createElement('span');
    name.className = 'name';
    name.textContent = entry.who;
    who.appendChild(name);
    if (entry.at) {
      var time = document.createElement('time');
      time.dateTime = new Date(entry.at).toISOString();
      time.textContent = timeLabel(entry.at);
      who.appendChild(time);
    }
    var bubble = document.createElement('div');
    bubble.className = 'bubble';
    bubble.textContent = entry.text;
    box.appendChild(who);
    box.appendChild(bubble);
    if (entry.feedback) renderFeedback(box, entry);
    if (entry.failed) markFailed(box);
    messages.appendChild(box);
    return box;
  }

  function renderFeedback(box, entry) {
    var row = document.createElement('div');
    row.className = 'actions';
    row.setAttribute('role', 'group');
    row.setAttribute('aria-label', 'Did this answer help?');
    [['helped', 'That helped'], ['human', 'Talk to a human']].forEach(function (pair) {
      var b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('data-action', pair[0]);
      b.textContent = pair[1];
      var chosen = entry.feedback === pair[0];
      b.setAttribute('aria-pressed', chosen ? 'true' : 'false');
      b.disabled = entry.feedback !== 'pending';
      b.addEventListener('click', function () { giveFeedback(entry, row, pair[0]); });
      row.appendChild(b);
    });
    box.appendChild(row);
  }

  function markFailed(box) {
    box.classList.add('failed');
    if (!box.querySelector('.failed-note')) {
      var note = document.createElement('div');
      note.className = 'failed-note';
      note.textContent = 'Not sent';
      box.appendChild(note);
    }
  }

  function add(entry) {
    entry.at = entry.at || Date.now();
    log.push(entry);
    persist();
    var node = render(entry);
    scrollDown();
    return node;
  }

  var typingNode = null;
  function typing(on) {
    if (on && !typingNode) {
      typingNode = document.createElement('div');
      typingNode.className = 'msg bot typing';
      typingNode.setAttribute('aria-label', 'The assistant is writing');
      var bubble = document.createElement('div');
      bubble.className = 'bubble';
      for (var i = 0; i < 3; i++) bubble.appendChild(document.createElement('span'));
      typingNode.appendChild(bubble);
      messages.appendChild(typingNode);
      scrollDown();
    } else if (!on && typingNode) {
      typingNode.remove();
      typingNode = null;
    }
  }

  // ---- notices ----
  function showNotice(text) {
    keepBottom(function () {
      el('notice-text').textContent = text;
      notice.hidden = false;
    });
  }
  function clearNotice() { keepBottom(function () { notice.hidden = true; }); }
  el('notice-close').addEventListener('click', function () { clearNotice(); input.focus(); });

  function politeError(err) {
    if (err && err.status === 429) {
      var wait = err.retryAfter ? ' ' + err.retryAfter + ' seconds' : ' a few seconds';
      return "You're sending messages faster than we can read them. Please wait" + wait + ' and try again.';
    }
    if (err && err.status === 413) return 'That message is too long for us to receive. Please shorten it and try again.';
    if (err && err.status >= 400 && err.status < 500) return "Sorry, we couldn't send that. Please check it and try again.";
    if (err && err.status >= 500) return 'Sorry, something went wrong on our side. Please try again in a moment.';
    return "We can't reach Hearth support right now. Please check your connection and try again.";
  }

  // ---- the API ----
  function request(method, url, body) {
    var init = { method: method, headers: { 'Accept': 'application/json' }, credentials: 'same-origin' };
    if (token) init.headers['X-Visitor-Token'] = token;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!res.ok) {
          var err = new Error((data && data.error) || ('HTTP ' + res.status));
          err.status = res.status;
          err.retryAfter = res.headers.get('Retry-After');
          throw err;
        }
        return data;
      });
    });
  }

  // ---- the ticket banner and polling ----
  function teamNameFrom(reply, team) {
    var m = /\bour (.+?) team\b/i.exec(reply || '');
    if (m) return m[1];
    return team ? team.charAt(0).toUpperCase() + team.slice(1) : 'support';
  }

  function showBanner() { keepBottom(updateBanner); }
  function updateBanner() {
    if (!ticket) { banner.hidden = true; return; }
    var title = el('banner-title');
    var sub = el('banner-sub');
    banner.classList.toggle('resolved', ticket.status === 'resolved');
    if (ticket.status === 'resolved') {
      title.textContent = 'Ticket #' + ticket.id + ' is resolved';
      sub.textContent = 'Our ' + ticket.teamName + " team has closed it. Ask anything else and the assistant will help.";
    } else {
      title.textContent = 'Our ' + ticket.teamName + ' team will answer here (ticket #' + ticket.id + ')';
      sub.textContent = pollFailures >= 3
        ? "We can't reach our team's replies right now. We'll keep trying."
        : ticket.status === 'claimed'
          ? 'Someone from the team is on it. Their replies appear below; you can keep writing.'
          : 'Their replies appear below. You can keep writing or leave this tab open.';
    }
    banner.hidden = false;
  }

  function setTicket(t, reply) {
    var known = ticket && ticket.id === t.id && ticket.team === t.team;
    ticket = {
      id: t.id,
      team: t.team,
      status: t.status,
      teamName: known ? ticket.teamName : teamNameFrom(reply, t.team)
    };
    persist();
    showBanner();
    pollNow();
  }

  var pollTimer = null;
  var polling = false;
  var pollFailures = 0;
  function schedulePoll() {
    clearTimeout(pollTimer);
    pollTimer = null;
    if (ticket && ticket.status !== 'resolved') pollTimer = setTimeout(pollNow, POLL_MS);
  }
  function pollNow() {
    if (polling || !ticket || ticket.status === 'resolved') return;
    polling = true;
    var asked = conversation;
    request('GET', '/v1/conversations/' + encodeURIComponent(conversation) + '/updates?after=' + lastAgentMs)
      .then(function (data) {
        if (asked !== conversation || !ticket) return;
        pollFailures = 0;
        var t = data && data.ticket;
        if (t) {
          if (t.id !== ticket.id) ticket = { id: t.id, team: t.team, teamName: t.team_name || t.team, status: t.status };
          if (t.team_name) ticket.teamName = t.team_name;
          ticket.team = t.team;
          ticket.status = t.status;
        }
        (data && data.lines || []).forEach(function (line) {
          if (typeof line.at_ms !== 'number' || line.at_ms <= lastAgentMs) return;
          lastAgentMs = line.at_ms;
          add({ role: 'agent', who: line.agent + ' (' + ticket.teamName + ')', text: line.text, at: line.at_ms });
        });
        if (!t) ticket.status = 'resolved';
        persist();
        showBanner();
      })
      .catch(function () {
        pollFailures += 1;
        if (pollFailures >= 3) showBanner();
      })
      .then(function () {
        polling = false;
        schedulePoll();
      });
  }

  // ---- sending ----
  var busy = false;
  function setBusy(on) {
    busy = on;
    sendButton.disabled = on;
    messages.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  function handleTurn(turn) {
    var route = (turn && turn.route) || {};
    if (turn && typeof turn.reply === 'string' && turn.reply) {
      var isAnswer = route.kind === 'answer' && !!route.answer;
      if (isAnswer) retireFeedback();
      add({ role: 'bot', who: 'Hearth assistant', text: turn.reply, feedback: isAnswer ? 'pending' : null });
    } else if (turn && turn.ticket && ticket) {
      add({ role: 'system', text: 'Sent to our ' + ticket.teamName + ' team.' });
    }
    if (turn && turn.ticket) setTicket(turn.ticket, turn.reply);
  }

  // Only the latest self-help answer can be rated.
  function retireFeedback() {
    log.forEach(function (e) { if (e.feedback === 'pending') e.feedback = 'expired'; });
    Array.prototype.forEach.call(messages.querySelectorAll('.actions'), function (row) {
      if (row.querySelector('[aria-pressed="true"]')) return;
      row.remove();
    });
  }

  function send(text) {
    if (busy) return;
    clearNotice();
    var entry = { role: 'user', who: 'You', text: text };
    var node = add(entry);
    setBusy(true);
    typing(true);
    var body = conversation ? { conversation: conversation, text: text } : { text: text };
    request('POST', '/v1/messages', body)
      .then(function (turn) {
        typing(false);
        if (turn && turn.visitor_token && turn.conversation) {
          conversation = turn.conversation;
          token = turn.visitor_token;
          save('conversation', conversation);
          save('token', token);
        }
        handleTurn(turn);
      })
      .catch(function (err) {
        typing(false);
        entry.failed = true;
        persist();
        markFailed(node);
        if (!input.value) { input.value = text; autosize(); }
        showNotice(politeError(err));
      })
      .then(function () {
        setBusy(false);
        input.focus();
      });
  }

  function giveFeedback(entry, row, action) {
    if (entry.feedback !== 'pending' || busy) return;
    clearNotice();
    var buttons = row.querySelectorAll('button');
    Array.prototype.forEach.call(buttons, function (b) {
      b.disabled = true;
      b.setAttribute('aria-pressed', b.getAttribute('data-action') === action ? 'true' : 'false');
    });
    setBusy(true);
    typing(true);
    request('POST', '/v1/feedback', {
      conversation: conversation,
      feedback: action === 'helped' ? 'helped' : 'talk to a human'
    })
      .then(function (turn) {
        typing(false);
        entry.feedback = action;
        persist();
        handleTurn(turn);
      })
      .catch(function (err) {
        typing(false);
        Array.prototype.forEach.call(buttons, function (b) {
          b.disabled = false;
          b.setAttribute('aria-pressed', 'false');
        });
        showNotice(politeError(err));
      })
      .then(function () { setBusy(false); });
  }

  function autosize() {
    keepBottom(function () {
      input.style.height = 'auto';
      input.style.height = Math.min(input.scrollHeight + 2, 160) + 'px';
    });
  }

  el('composer').addEventListener('submit', function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text || busy) return;
    input.value = '';
    autosize();
    send(text);
  });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      el('composer').requestSubmit ? el('composer').requestSubmit() : sendButton.click();
    }
  });
  input.addEventListener('input', autosize);

  function greet() {
    render({
      role: 'bot',
      who: 'Hearth assistant',
      text: "Hi! I'm Hearth's support assistant. Ask me about plans and pricing, billing, integrations or your account, and I'll point you to the right answer or the right person."
    }).classList.add('welcome');
  }

  function start() {
    restore();
    messages.textContent = '';
    greet();
    log.forEach(render);
    showBanner();
    scrollDown();
    if (ticket && ticket.status !== 'resolved') pollNow();
  }

  el('restart').addEventListener('click', function () {
    // A new conversation for the same visitor.
    ['conversation', 'token', 'log', 'ticket', 'after'].forEach(function (k) {
      try { window.sessionStorage.removeItem(KEY + k); } catch (e) { /* ignore */ }
    });
    clearTimeout(pollTimer);
    clearNotice();
    start();
    input.focus();
  });

  start();
  input.focus();
})();
