(function () {
  'use strict';

  var POLL_MS = 2000;
  var KEY = 'personabot.chat.';
  var el = function (id) { return document.getElementById(id); };
  var meta = function (name, fallback) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return (m && m.getAttribute('content')) || fallback;
  };
  var BRAND = meta('personabot-brand', 'Support');
  var WELCOME = meta('personabot-welcome', "Hi! Ask me anything, and I'll point you to the right answer or the right person.");
  var ASSISTANT = BRAND + ' assistant';
  var ACTION_LABELS = { helped: 'That helped', human: 'Talk to a human' };
  var RATING_LABELS = ['1 – very poor', '2 – poor', '3 – okay', '4 – good', '5 – excellent'];
  var messages = el('messages');
  var input = el('input');
  var sendButton = el('send');
  var banners = el('banners');
  var notice = el('notice');

  if (/[?&]widget=1\b/.test(window.location.search) || window.self !== window.top) {
    document.body.classList.add('embedded');
  }

  // ---- storage: localStorage, so a reload, a new tab or a return finds the conversation ----
  // (the page still works without it; the server decides how long a conversation is kept).
  function store() {
    try { return window.localStorage; } catch (e) { return null; }
  }
  function load(name, fallback) {
    try {
      var raw = store().getItem(KEY + name);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) { return fallback; }
  }
  function save(name, value) {
    try { store().setItem(KEY + name, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }
  function forget() {
    ['conversation', 'token'].forEach(function (k) {
      try { store().removeItem(KEY + k); } catch (e) { /* ignore */ }
    });
  }

  // The conversation and its visitor token are issued by the server with the first answer.
  var conversation = null, token = null;
  var tickets = {};        // id -> { id, team, teamName, status, created }
  var lastAgentMs = 0;
  var generation = 0;      // bumped by "New conversation", so late answers are dropped

  var markdown = window.PersonabotMarkdown.render;

  // ---- rendering ----
  function timeLabel(ms) {
    try {
      return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    } catch (e) { return ''; }
  }
  function scrollDown() { messages.scrollTop = messages.scrollHeight; }
  // Runs a change that makes the list shorter (a banner, a notice, a taller input box) and
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
    if (entry.role === 'bot') markdown(bubble, entry.text);
    else bubble.textContent = entry.text;
    box.appendChild(who);
    box.appendChild(bubble);
    if (entry.actions && entry.actions.length) renderActions(box, entry);
    if (entry.choices && entry.choices.length) renderChoices(box, entry);
    messages.appendChild(box);
    return box;
  }

  // The buttons the turn's "actions" name (none under greetings, thanks or handoffs).
  function renderActions(box, entry) {
    var row = document.createElement('div');
    row.className = 'actions feedback';
    row.setAttribute('role', 'group');
    row.setAttribute('aria-label', 'Did this answer help?');
    entry.actions.forEach(function (action) {
      if (!ACTION_LABELS[action]) return;
      var b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('data-action', action);
      b.textContent = ACTION_LABELS[action];
      b.setAttribute('aria-pressed', 'false');
      b.addEventListener('click', function () { giveFeedback(row, action); });
      row.appendChild(b);
    });
    box.appendChild(row);
  }

  // A clarifying question's options: pressing one sends its name as the customer's answer.
  function renderChoices(box, entry) {
    var row = document.createElement('div');
    row.className = 'actions choices';
    row.setAttribute('role', 'group');
    row.setAttribute('aria-label', 'Choose one');
    entry.choices.forEach(function (choice) {
      if (!choice || typeof choice.name !== 'string') return;
      var b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('data-choice', String(choice.id));
      b.textContent = choice.name;
      b.addEventListener('click', function () {
        if (busy) return;
        b.setAttribute('aria-pressed', 'true');
        send(choice.name);
      });
      row.appendChild(b);
    });
    box.appendChild(row);
  }

  // Buttons belong to the latest bot line only: a new message retires them (a pressed
  // feedback button stays, shown pressed and disabled).
  function retireButtons() {
    Array.prototype.forEach.call(messages.querySelectorAll('.actions'), function (row) {
      if (row.classList.contains('feedback') && row.querySelector('[aria-pressed="true"]')) return;
      row.remove();
    });
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
      var secs = Number(err.retryAfter) || 0;
      var wait = secs >= 120 ? ' ' + Math.ceil(secs / 60) + ' minutes'
        : secs > 0 ? ' ' + secs + ' seconds' : ' a few seconds';
      return "You're sending messages faster than we can read them. Please wait" + wait + ' and try again.';
    }
    if (err && err.status === 413) return 'That message is too long for us to receive. Please shorten it and try again.';
    if (err && err.status >= 400 && err.status < 500) return "Sorry, we couldn't send that. Please check it and try again.";
    if (err && err.status >= 500) return 'Sorry, something went wrong on our side. Please try again in a moment.';
    return "We can't reach " + BRAND + ' support right now. Please check your connection and try again.';
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

  // ---- tickets: one banner per ticket still open (or the last one, once resolved) ----
  function teamNameFrom(reply, team) {
    var m = /\bour (.+?) team\b/i.exec(reply || '');
    if (m) return m[1];
    return team ? team.charAt(0).toUpperCase() + team.slice(1) : 'support';
  }
  function ticketList() {
    return Object.keys(tickets).map(function (k) { return tickets[k]; })
      .sort(function (a, b) { return a.id - b.id; });
  }
  function activeTickets() {
    return ticketList().filter(function (t) { return t.status !== 'resolved'; });
  }

  function showBanners() { keepBottom(updateBanners); }
  function updateBanners() {
    banners.textContent = '';
    var list = activeTickets();
    if (!list.length) {
      var all = ticketList();
      if (all.length && all[all.length - 1].resolvedHere) list = [all[all.length - 1]];
    }
    list.forEach(function (t) {
      var box = document.createElement('div');
      box.className = 'banner' + (t.status === 'resolved' ? ' resolved' : '');
      box.setAttribute('data-ticket', String(t.id));
      var dot = document.createElement('span');
      dot.className = 'dot';
      dot.setAttribute('aria-hidden', 'true');
      var words = document.createElement('span');
      var title = document.createElement('span');
      title.className = 'banner-title';
      var sub = document.createElement('span');
      sub.className = 'banner-sub';
      if (t.status === 'resolved') {
        title.textContent = 'Ticket #' + t.id + ' is resolved';
        sub.textContent = 'Our ' + t.teamName + ' team has closed it. Ask anything else and the assistant will help.';
      } else {
        title.textContent = 'Our ' + t.teamName + ' team will answer here (ticket #' + t.id + ')';
        sub.textContent = pollFailures >= 3
          ? "We can't reach our team's replies right now. We'll keep trying."
          : t.status === 'claimed'
            ? 'Someone from the team is on it. Their replies appear below; you can keep writing.'
            : 'Their replies appear below. You can keep writing, or come back later: this conversation is kept.';
      }
      words.appendChild(title);
      words.appendChild(sub);
      box.appendChild(dot);
      box.appendChild(words);
      banners.appendChild(box);
    });
  }

  function setTicket(t, reply) {
    var known = tickets[t.id];
    var was = known && known.status;
    tickets[t.id] = {
      id: t.id,
      team: t.team,
      status: t.status,
      teamName: t.team_name || (known ? known.teamName : teamNameFrom(reply, t.team)),
      resolvedHere: known ? (known.resolvedHere || (was !== 'resolved' && t.status === 'resolved')) : false,
      rated: t.rated === true || (known ? known.rated : false)
    };
  }

  // ---- "How did we do?": asked once the conversation's latest ticket is resolved, unrated ----
  function askRating() {
    var all = ticketList();
    var t = all[all.length - 1];
    if (!t || t.status !== 'resolved' || t.rated) return;
    if (messages.querySelector('.csat[data-ticket="' + t.id + '"]')) return;
    keepBottom(function () { messages.appendChild(ratingBox(t)); });
  }

  function ratingBox(t) {
    var box = document.createElement('div');
    box.className = 'csat';
    box.setAttribute('data-ticket', String(t.id));
    box.setAttribute('role', 'group');
    box.setAttribute('aria-labelledby', 'csat-q-' + t.id);
    var q = document.createElement('p');
    q.className = 'csat-question';
    q.id = 'csat-q-' + t.id;
    q.textContent = 'How did we do?';
    var row = document.createElement('div');
    row.className = 'csat-buttons';
    var thanks = document.createElement('p');
    thanks.className = 'csat-thanks';
    thanks.setAttribute('role', 'status');
    thanks.hidden = true;
    box.appendChild(q);
    box.appendChild(row);
    box.appendChild(thanks);
    var chosen = 0;
    RATING_LABELS.forEach(function (label, i) {
      var b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('data-rating', String(i + 1));
      b.setAttribute('aria-label', label);
      b.title = label;
      b.setAttribute('aria-pressed', 'false');
      b.textContent = String(i + 1);
      b.addEventListener('click', function () {
        chosen = i + 1;
        rate(box, { rating: chosen }, function () {
          Array.prototype.forEach.call(row.querySelectorAll('button'), function (o) {
            o.setAttribute('aria-pressed', o === b ? 'true' : 'false');
          });
          thanks.textContent = 'Thank you for your rating!';
          thanks.hidden = false;
          if (!box.querySelector('.csat-comment')) box.appendChild(commentForm(box, function () { return chosen; }, thanks));
        });
      });
      row.appendChild(b);
    });
    return box;
  }

  // The optional comment, sent with the rating it goes with (a later rating replaces the earlier).
  function commentForm(box, rating, thanks) {
    var form = document.createElement('form');
    form.className = 'csat-comment';
    var label = document.createElement('label');
    label.textContent = 'Anything to add? (optional)';
    var area = document.createElement('textarea');
    area.maxLength = 1000;
    area.id = 'csat-comment-' + box.getAttribute('data-ticket');
    label.htmlFor = area.id;
    var sendComment = document.createElement('button');
    sendComment.type = 'submit';
    sendComment.textContent = 'Send';
    form.appendChild(label);
    form.appendChild(area);
    form.appendChild(sendComment);
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var text = area.value.trim();
      if (!text) return;
      sendComment.disabled = true;
      rate(box, { rating: rating(), comment: text }, function () {
        form.remove();
        thanks.textContent = 'Thank you for your feedback!';
      }, function () { sendComment.disabled = false; });
    });
    return form;
  }

  function rate(box, body, done, failed) {
    if (!conversation) return;
    clearNotice();
    var mine = generation;
    body.conversation = conversation;
    request('POST', '/v1/feedback', body)
      .then(function () {
        if (mine !== generation) return;
        var t = tickets[box.getAttribute('data-ticket')];
        if (t) t.rated = true;
        done();
      })
      .catch(function (err) {
        if (mine !== generation) return;
        if (failed) failed();
        showNotice(politeError(err));
      });
  }

  var pollTimer = null;
  var polling = false;
  var pollFailures = 0;
  function schedulePoll() {
    clearTimeout(pollTimer);
    pollTimer = null;
    if (conversation && activeTickets().length) pollTimer = setTimeout(pollNow, POLL_MS);
  }
  function pollNow() {
    if (polling || !conversation || !activeTickets().length) return;
    polling = true;
    var mine = generation;
    var asked = ticketList().slice(-20).map(function (t) { return t.id; });
    var ids = asked.join(',');
    request('GET', '/v1/conversations/' + encodeURIComponent(conversation) + '/updates?after=' +
      lastAgentMs + '&tickets=' + encodeURIComponent(ids))
      .then(function (data) {
        if (mine !== generation) return;
        pollFailures = 0;
        var listed = (data && data.tickets) || [];
        listed.forEach(function (t) { setTicket(t); });
        // A ticket the server no longer has (deleted with the customer's data) is over.
        activeTickets().forEach(function (t) {
          var gone = asked.indexOf(t.id) >= 0 && !listed.some(function (l) { return l.id === t.id; });
          if (gone) { t.status = 'resolved'; t.rated = true; }
        });
        (data && data.lines || []).forEach(function (line) {
          if (typeof line.at_ms !== 'number' || line.at_ms <= lastAgentMs) return;
          lastAgentMs = line.at_ms;
          var team = line.team_name || (tickets[line.ticket] && tickets[line.ticket].teamName) || 'support';
          add({ role: 'agent', who: line.agent + ' (' + team + ')', text: line.text, at: line.at_ms });
        });
        showBanners();
        askRating();
      })
      .catch(function () {
        if (mine !== generation) return;
        pollFailures += 1;
        if (pollFailures >= 3) showBanners();
      })
      .then(function () {
        polling = false;
        if (mine === generation) schedulePoll();
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
    if (!turn) return;
    retireButtons();
    if (typeof turn.reply === 'string' && turn.reply) {
      add({
        role: 'bot',
        who: ASSISTANT,
        text: turn.reply,
        actions: Array.isArray(turn.actions) ? turn.actions : [],
        choices: Array.isArray(turn.choices) ? turn.choices : []
      });
    } else if (turn.ticket) {
      add({ role: 'system', text: 'Sent to our ' + ((tickets[turn.ticket.id] || {}).teamName || 'support') + ' team.' });
    }
    if (turn.ticket) {
      setTicket(turn.ticket, turn.reply);
      showBanners();
      pollNow();
    }
  }

  function adopt(turn) {
    if (turn && turn.visitor_token && turn.conversation) {
      // A new conversation (the first message, or the old one was past keeping).
      conversation = turn.conversation;
      token = turn.visitor_token;
      save('conversation', conversation);
      save('token', token);
    }
  }

  function send(text) {
    if (busy) return;
    clearNotice();
    retireButtons();
    var node = add({ role: 'user', who: 'You', text: text });
    setBusy(true);
    typing(true);
    var mine = generation;
    var body = conversation ? { conversation: conversation, text: text } : { text: text };
    request('POST', '/v1/messages', body)
      .then(function (turn) {
        if (mine !== generation) return;
        typing(false);
        adopt(turn);
        handleTurn(turn);
      })
      .catch(function (err) {
        if (mine !== generation) return;
        typing(false);
        markFailed(node);
        if (!input.value) { input.value = text; autosize(); }
        showNotice(politeError(err));
      })
      .then(function () {
        setBusy(false);
        input.focus();
      });
  }

  function giveFeedback(row, action) {
    if (busy || !conversation) return;
    clearNotice();
    var buttons = row.querySelectorAll('button');
    Array.prototype.forEach.call(buttons, function (b) {
      b.disabled = true;
      b.setAttribute('aria-pressed', b.getAttribute('data-action') === action ? 'true' : 'false');
    });
    setBusy(true);
    typing(true);
    var mine = generation;
    request('POST', '/v1/feedback', {
      conversation: conversation,
      feedback: action === 'helped' ? 'helped' : 'talk to a human'
    })
      .then(function (turn) {
        if (mine !== generation) return;
        typing(false);
        handleTurn(turn);
      })
      .catch(function (err) {
        if (mine !== generation) return;
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
    render({ role: 'bot', who: ASSISTANT, text: WELCOME }).classList.add('welcome');
  }

  // ---- restoring: the server holds the conversation; this tab only holds its id and token ----
  function restored(data) {
    (data.tickets || []).forEach(function (t) { setTicket(t); });
    var lines = data.lines || [];
    var lastBot = -1;
    lines.forEach(function (l, i) { if (l.from === 'bot') lastBot = i; });
    lines.forEach(function (l, i) {
      var entry = { role: 'user', who: 'You', text: l.text, at: l.at_ms };
      if (l.from === 'bot') {
        entry = { role: 'bot', who: ASSISTANT, text: l.text, at: l.at_ms };
        if (i === lastBot && i === lines.length - 1) {
          entry.actions = data.actions || [];
          entry.choices = data.choices || [];
        }
      } else if (l.from === 'agent') {
        var t = tickets[l.ticket];
        entry = { role: 'agent', who: l.agent + ' (' + (t ? t.teamName : 'support') + ')', text: l.text, at: l.at_ms };
        lastAgentMs = Math.max(lastAgentMs, l.at_ms);
      }
      render(entry);
    });
    showBanners();
    askRating();
    scrollDown();
    pollNow();
  }

  function start() {
    generation += 1;
    clearTimeout(pollTimer);
    conversation = load('conversation', null);
    token = load('token', null);
    tickets = {};
    lastAgentMs = 0;
    pollFailures = 0;
    messages.textContent = '';
    banners.textContent = '';
    greet();
    // How long a conversation is kept is the server's to say (410 Gone when it is over).
    if (typeof conversation !== 'string' || typeof token !== 'string') {
      forget();
      conversation = null;
      token = null;
      return;
    }
    var mine = generation;
    messages.setAttribute('aria-busy', 'true');
    request('GET', '/v1/conversations/' + encodeURIComponent(conversation))
      .then(function (data) {
        if (mine !== generation) return;
        if (data) restored(data);
      })
      .catch(function (err) {
        if (mine !== generation) return;
        if (err && (err.status === 410 || err.status === 403 || err.status === 401 || err.status === 404)) {
          // Past keeping, or no longer ours: start afresh.
          forget();
          conversation = null;
          token = null;
          return;
        }
        showNotice("We couldn't load your earlier messages just now. You can keep writing; reload to try again.");
      })
      .then(function () { messages.setAttribute('aria-busy', 'false'); });
  }

  el('restart').addEventListener('click', function () {
    // A new conversation: the stored id and token are forgotten.
    forget();
    clearNotice();
    setBusy(false);
    typing(false);
    start();
    input.focus();
  });

  start();
  input.focus();
})();
