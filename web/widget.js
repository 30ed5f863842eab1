/*
 * patient-voice web chat: the launcher and chat a trust puts on its website, and the
 * full-page chat at /webhooks/web/chat. Plain JavaScript, no dependencies, nothing
 * loaded from anywhere but the bot's own server.
 *
 *   <script src="https://BOT/webhooks/web/widget.js" data-lang="en" defer></script>
 *
 * Options (data- attributes on the script tag):
 *   data-lang        first language of the widget's own words (default: the page's lang)
 *   data-mode="page" draw the chat in the page instead of behind a launcher button
 *   data-target      id of the element to draw the full-page chat in
 *   data-timeout-ms  how long to wait for the server before offering "Try again"
 *
 * Accessibility (WCAG 2.2 AA): labelled launcher and input; only new bot messages are
 * announced (a polite live region separate from the history); focus stays in the input
 * after sending and goes to the first choice after a choice; Escape closes and returns
 * to the launcher; every message carries the lang and dir of its reply; all text is set
 * with textContent, so HTML in a message is shown as text and never run.
 */
(function () {
  "use strict";

  // Replaced by the server with every language's widget words, names and directions.
  var STRINGS = /*PV_STRINGS*/null;

  var script = document.currentScript || (function () {
    var all = document.querySelectorAll("script[src]");
    for (var i = all.length - 1; i >= 0; i--) {
      if (/\/widget\.js(\?|#|$)/.test(all[i].src)) { return all[i]; }
    }
    return null;
  })();
  if (!script || window.__patientVoiceChat) { return; }
  window.__patientVoiceChat = true;

  if (!STRINGS || !STRINGS.languages) {
    STRINGS = { "default": "en", languages: { en: { name: "English", dir: "ltr", widget: {} } } };
  }
  var BASE = new URL(".", script.src).href;
  var MODE = script.getAttribute("data-mode") === "page" ? "page" : "widget";
  var TIMEOUT_MS = Number(script.getAttribute("data-timeout-ms")) || 30000;
  var STORE_KEY = "patient-voice-chat:" + BASE;
  var MAX_HISTORY = 300;
  var uid = 0;

  // -- state, kept for this browser tab only (sessionStorage) --------------------------

  function randomToken(bytes) {
    var data = new Uint8Array(bytes);
    window.crypto.getRandomValues(data);
    var text = "";
    for (var i = 0; i < data.length; i++) { text += String.fromCharCode(data[i]); }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function known(code) {
    return typeof code === "string" && Object.prototype.hasOwnProperty.call(STRINGS.languages, code);
  }

  function firstLanguage() {
    var wanted = [script.getAttribute("data-lang"), document.documentElement.lang,
      navigator.language];
    for (var i = 0; i < wanted.length; i++) {
      var code = (wanted[i] || "").toLowerCase().split("-")[0];
      if (known(code)) { return code; }
    }
    return STRINGS["default"] || "en";
  }

  function load() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(STORE_KEY) || "null");
      if (saved && typeof saved.sender === "string" && Array.isArray(saved.history)) {
        return saved;
      }
    } catch (ignored) { /* storage blocked or damaged: start afresh */ }
    return null;
  }

  var state = load() || {
    sender: randomToken(24), lang: firstLanguage(), easyRead: false, readAloud: false,
    open: false, started: false, history: []
  };
  if (!known(state.lang)) { state.lang = firstLanguage(); }

  function save() {
    try {
      state.history = state.history.slice(-MAX_HISTORY);
      window.sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (ignored) { /* the chat works without storage */ }
  }

  function words() { return STRINGS.languages[state.lang] || STRINGS.languages.en; }

  function t(key) {
    var own = words().widget || {};
    var english = (STRINGS.languages.en || {}).widget || {};
    return own[key] || english[key] || key;
  }

  var languageOfName = {};
  Object.keys(STRINGS.languages).forEach(function (code) {
    languageOfName[STRINGS.languages[code].name] = code;
  });

  // -- building the DOM (textContent only, never innerHTML) -----------------------------

  function el(tag, className, attributes) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    return node;
  }

  var SVG = "http://www.w3.org/2000/svg";
  var BUBBLE = "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H10l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 " +
    "2-2z";
  var SPEAKER = "M3 9v6h4l5 4V5L7 9H3zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4zM14 " +
    "3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z";

  function icon(className, path) {  // drawn here, so no font or file is needed
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "pv-icon " + className);
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var shape = document.createElementNS(SVG, "path");
    shape.setAttribute("d", path);
    shape.setAttribute("fill", "currentColor");
    svg.appendChild(shape);
    return svg;
  }

  function nextId(prefix) { uid += 1; return "pv-" + prefix + "-" + uid; }

  var chrome = [];  // [element, key, attribute or null]: the widget's own words

  function say(node, key, attribute) {
    chrome.push([node, key, attribute || null]);
    paint(node, key, attribute);
    return node;
  }

  function paint(node, key, attribute) {
    if (attribute) { node.setAttribute(attribute, t(key)); } else { node.textContent = t(key); }
  }

  var root = el("div", "pv-root pv-mode-" + MODE);
  var announcer = el("div", "pv-visually-hidden", { "aria-live": "polite" });
  var launcher = el("button", "pv-launcher", { type: "button", "aria-expanded": "false" });
  var launcherIcon = icon("pv-launcher-icon", BUBBLE);
  var launcherText = say(el("span", "pv-launcher-text"), "launcher");
  launcher.appendChild(launcherIcon);
  launcher.appendChild(launcherText);

  var titleId = nextId("title");
  var panel = el("section", "pv-panel", { id: nextId("panel"), "aria-labelledby": titleId });
  if (MODE === "widget") {
    panel.setAttribute("role", "dialog");
    launcher.setAttribute("aria-controls", panel.id);
  }
  var header = el("div", "pv-header");
  var title = say(el(MODE === "page" ? "h1" : "h2", "pv-title", { id: titleId }), "title");
  header.appendChild(title);
  var closeButton = el("button", "pv-close", { type: "button" });
  var closeIcon = el("span", "pv-close-icon", { "aria-hidden": "true" });
  closeIcon.textContent = "\u00D7";
  closeButton.appendChild(closeIcon);
  closeButton.appendChild(say(el("span"), "close"));
  if (MODE === "widget") { header.appendChild(closeButton); }

  function makeSwitch(key, checked) {
    var label = el("label", "pv-switch");
    var box = el("input", "pv-switch-input", { type: "checkbox", role: "switch" });
    box.checked = !!checked;
    label.appendChild(box);
    label.appendChild(say(el("span", "pv-switch-text"), key));
    return { label: label, box: box };
  }
  var settings = el("div", "pv-settings");
  var easySwitch = makeSwitch("easy_read", state.easyRead);
  var aloudSwitch = makeSwitch("read_aloud", state.readAloud);
  settings.appendChild(easySwitch.label);
  settings.appendChild(aloudSwitch.label);

  var log = el("div", "pv-log", { role: "region", tabindex: "0", "aria-labelledby": titleId });
  var status = el("div", "pv-status", { hidden: "" });
  var alertText = el("p", "pv-alert", { role: "alert" });
  var retryButton = say(el("button", "pv-retry", { type: "button" }), "retry");
  status.appendChild(alertText);
  status.appendChild(retryButton);

  var form = el("form", "pv-form", { novalidate: "" });
  var inputId = nextId("input");
  var inputLabel = say(el("label", "pv-input-label", { "for": inputId }), "input_label");
  var row = el("div", "pv-input-row");
  var input = el("input", "pv-input", {
    id: inputId, type: "text", autocomplete: "off", maxlength: "3000", enterkeyhint: "send"
  });
  var sendButton = say(el("button", "pv-send", { type: "submit" }), "send");
  row.appendChild(input);
  row.appendChild(sendButton);
  form.appendChild(inputLabel);
  form.appendChild(row);

  panel.appendChild(header);
  panel.appendChild(settings);
  panel.appendChild(log);
  panel.appendChild(status);
  panel.appendChild(form);
  if (MODE === "widget") { root.appendChild(launcher); }
  root.appendChild(panel);
  root.appendChild(announcer);

  // -- language ----------------------------------------------------------------------

  function setLanguage(code) {
    if (!known(code)) { return; }
    state.lang = code;
    var direction = words().dir === "rtl" ? "rtl" : "ltr";
    root.setAttribute("lang", code);
    root.setAttribute("dir", direction);
    if (MODE === "page") {
      document.documentElement.setAttribute("lang", code);
      document.documentElement.setAttribute("dir", direction);
      document.title = t("title");
    }
    chrome.forEach(function (entry) { paint(entry[0], entry[1], entry[2]); });
    Array.prototype.forEach.call(root.querySelectorAll(".pv-listen, .pv-note"), function (node) {
      node.setAttribute("lang", code);
      node.setAttribute("dir", direction);
    });
  }

  // -- messages ----------------------------------------------------------------------

  function announce(text, lang, dir) {
    var line = el("p", null, { lang: lang, dir: dir });
    line.textContent = text;
    announcer.appendChild(line);
    while (announcer.childNodes.length > 4) { announcer.removeChild(announcer.firstChild); }
  }

  function audioUrl(path) {
    try { return new URL(path, BASE).href; } catch (ignored) { return null; }
  }

  function addBot(message, fresh) {
    var lang = known(message.lang) ? message.lang : (typeof message.lang === "string" &&
      /^[a-z]{2,3}$/.test(message.lang) ? message.lang : state.lang);
    var dir = message.dir === "rtl" ? "rtl" : "ltr";
    if (known(lang) && lang !== state.lang) { setLanguage(lang); }
    var item = el("div", "pv-msg pv-bot", { lang: lang, dir: dir });
    var textId = nextId("text");
    var text = el("p", "pv-text", { id: textId });
    text.textContent = String(message.text || "");
    item.appendChild(text);
    var audio = null;
    var source = message.audio_url ? audioUrl(message.audio_url) : null;
    if (source && message.text) {
      var tools = el("div", "pv-tools");
      var listen = el("button", "pv-listen", { type: "button", lang: state.lang, dir: words().dir });
      listen.appendChild(icon("pv-listen-icon", SPEAKER));
      listen.appendChild(say(el("span"), "listen"));
      audio = el("audio", "pv-audio", { preload: "none", src: source });
      tools.appendChild(listen);
      tools.appendChild(audio);
      item.appendChild(tools);
      listen.addEventListener("click", function () { play(audio); });
      audio.addEventListener("error", function () { audioFailed(audio, item); });
    }
    var buttons = Array.isArray(message.buttons) ? message.buttons : [];
    if (buttons.length) {
      var group = el("div", "pv-choices", { role: "group", "aria-labelledby": textId });
      buttons.forEach(function (choice) {
        var button = el("button", "pv-choice", { type: "button" });
        var titleText = String(choice.title || "");
        button.textContent = titleText;
        button.setAttribute("data-payload", String(choice.payload || ""));
        var code = languageOfName[titleText];
        if (code) {  // a language named in its own words is read in that language
          button.setAttribute("lang", code);
          button.setAttribute("dir", STRINGS.languages[code].dir === "rtl" ? "rtl" : "ltr");
        }
        button.addEventListener("click", function () {
          input.focus();  // never lose focus while the chosen button goes away
          send(String(choice.payload || ""), titleText, true);
        });
        group.appendChild(button);
      });
      item.appendChild(group);
    }
    log.appendChild(item);
    if (fresh) {
      state.history.push({ who: "bot", text: String(message.text || ""), lang: lang, dir: dir,
        audio_url: message.audio_url || null, buttons: buttons });
      announce(String(message.text || ""), lang, dir);
      if (state.readAloud && audio) { queueSpeech(audio); }
    }
    return item;
  }

  function addYou(text, fresh) {
    var item = el("div", "pv-msg pv-you");
    var body = el("p", "pv-text", { dir: "auto" });
    body.textContent = text;
    item.appendChild(body);
    log.appendChild(item);
    if (fresh) { state.history.push({ who: "you", text: text }); }
    return item;
  }

  function removeChoices() {
    Array.prototype.forEach.call(log.querySelectorAll(".pv-choices"), function (group) {
      group.parentNode.removeChild(group);
    });
    state.history.forEach(function (entry) { entry.buttons = []; });
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
    if (panel.scrollHeight > panel.clientHeight) {  // short screens scroll the whole panel
      var last = log.lastElementChild;
      if (last) { last.scrollIntoView({ block: "nearest" }); }
    }
  }

  // -- speech ------------------------------------------------------------------------

  var speechQueue = [];
  var speaking = null;

  function stopSpeech() {
    speechQueue = [];
    if (speaking) { speaking.pause(); speaking = null; }
  }

  function play(audio) {
    stopSpeech();
    start(audio);
  }

  function start(audio) {
    speaking = audio;
    try { audio.currentTime = 0; } catch (ignored) { /* not loaded yet */ }
    var playing = audio.play();
    if (playing && playing.catch) { playing.catch(function () { /* reported by "error" */ }); }
  }

  function queueSpeech(audio) {
    if (speaking && !speaking.paused && !speaking.ended) { speechQueue.push(audio); return; }
    start(audio);
  }

  function nextSpeech() {
    speaking = null;
    if (speechQueue.length) { start(speechQueue.shift()); }
  }

  log.addEventListener("ended", nextSpeech, true);

  function note(item, key) {
    var existing = item.querySelector(".pv-note");
    var line = existing || el("p", "pv-note");
    line.setAttribute("lang", state.lang);
    line.setAttribute("dir", words().dir);
    line.textContent = t(key);
    if (!existing) { item.appendChild(line); }
    announce(t(key), state.lang, words().dir);
  }

  function audioFailed(audio, item) {
    if (speaking === audio) { nextSpeech(); }
    fetch(audio.currentSrc || audio.src, { credentials: "omit" }).then(function (reply) {
      return reply.json().then(function (body) {
        note(item, reply.status === 404 && body && body.error === "no_voice" ? "no_voice" : "offline");
      });
    }).catch(function () { note(item, "offline"); });
  }

  // -- talking to the server: one message at a time, retried with the same id ---------

  var outbox = [];
  var busy = false;

  function send(text, shown, fromChoice) {
    if (!text) { return; }
    removeChoices();
    if (shown) { addYou(shown, true); }
    outbox.push({ message: text, message_id: randomToken(16), easy_read: state.easyRead,
      fromChoice: !!fromChoice });
    save();
    scrollToEnd();
    pump();
  }

  function post(item) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) { controller.abort(); } }, TIMEOUT_MS);
    var body = JSON.stringify({ sender: state.sender, message: item.message,
      message_id: item.message_id, metadata: { easy_read: item.easy_read } });
    // text/plain keeps this a CORS "simple request" (no preflight): see actions/channels/web.py
    return fetch(BASE + "webhook", {
      method: "POST", body: body, credentials: "omit", mode: "cors",
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      signal: controller ? controller.signal : undefined
    }).then(function (reply) {
      clearTimeout(timer);
      if (!reply.ok) { throw new Error("status " + reply.status); }
      return reply.json();
    }, function (error) { clearTimeout(timer); throw error; });
  }

  function pump() {
    if (busy || !outbox.length) { return; }
    busy = true;
    log.setAttribute("aria-busy", "true");
    var item = outbox[0];
    post(item).then(function (data) {
      outbox.shift();
      busy = false;
      log.removeAttribute("aria-busy");
      hideStatus();
      var newest = null;
      (data && Array.isArray(data.messages) ? data.messages : []).forEach(function (message) {
        newest = addBot(message, true);
      });
      save();
      scrollToEnd();
      afterReply(item, newest);
      pump();
    }, function () {
      busy = false;
      log.removeAttribute("aria-busy");
      showStatus();
    });
  }

  function afterReply(item, newest) {
    // After a choice, go to the first choice of the next question; after typing, stay.
    var here = document.activeElement;
    var inChat = here === input || here === document.body || here === null;
    if (!item.fromChoice || !inChat || !newest) { return; }
    var group = newest.querySelector(".pv-choices");
    var choices = group ? group.querySelectorAll(".pv-choice") : [];
    // A question to answer in words offers only "skip": the answer box is the place then.
    var onlySkip = Array.prototype.every.call(choices, function (button) {
      return button.getAttribute("data-payload") === "/skip";
    });
    if (choices.length && !onlySkip) { choices[0].focus(); }
  }

  function showStatus() {
    alertText.textContent = "";
    status.hidden = false;
    alertText.setAttribute("lang", state.lang);
    alertText.setAttribute("dir", words().dir);
    // Set after un-hiding so screen readers notice the change in the alert.
    window.setTimeout(function () { alertText.textContent = t("offline"); }, 50);
  }

  function hideStatus() {
    status.hidden = true;
    alertText.textContent = "";
  }

  retryButton.addEventListener("click", function () {
    input.focus();
    hideStatus();
    pump();
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { if (outbox.length && !busy) { pump(); } return; }
    input.value = "";
    send(text, text, false);
    input.focus();
  });

  // -- settings --------------------------------------------------------------------

  function applyEasyRead() {
    root.classList.toggle("pv-easy", !!state.easyRead);
  }

  easySwitch.box.addEventListener("change", function () {
    state.easyRead = easySwitch.box.checked;
    applyEasyRead();
    save();
  });

  aloudSwitch.box.addEventListener("change", function () {
    state.readAloud = aloudSwitch.box.checked;
    if (!state.readAloud) { stopSpeech(); }
    save();
  });

  // -- opening and closing -----------------------------------------------------------

  function begin() {
    if (state.started) { return; }
    state.started = true;
    save();
    outbox.push({ message: "/greet", message_id: randomToken(16), easy_read: state.easyRead,
      fromChoice: false });
    pump();
  }

  function openChat(moveFocus) {
    state.open = true;
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    save();
    scrollToEnd();
    if (moveFocus) { input.focus(); }
    begin();
  }

  function closeChat() {
    state.open = false;
    stopSpeech();
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    save();
    launcher.focus();
  }

  launcher.addEventListener("click", function () { openChat(true); });
  closeButton.addEventListener("click", closeChat);
  document.addEventListener("keydown", function (event) {
    // Escape closes the chat from inside it; from the page behind it, Escape uncovers
    // whatever the open chat may hide, without moving focus (WCAG 2.4.11).
    if (MODE !== "widget" || event.key !== "Escape" || panel.hidden) { return; }
    if (panel.contains(document.activeElement)) {
      event.preventDefault();
      closeChat();
    } else {
      state.open = false;
      panel.hidden = true;
      launcher.hidden = false;
      launcher.setAttribute("aria-expanded", "false");
      save();
    }
  });

  // -- start -------------------------------------------------------------------------

  function restore() {
    state.history.forEach(function (entry) {
      if (entry.who === "bot") { addBot(entry, false); } else { addYou(entry.text, false); }
    });
  }

  function mount() {
    setLanguage(state.lang);
    applyEasyRead();
    restore();
    if (MODE === "page") {
      var target = document.getElementById(script.getAttribute("data-target") || "") ||
        document.body;
      target.appendChild(root);
      panel.hidden = false;
      begin();
      return;
    }
    panel.hidden = !state.open;
    launcher.hidden = state.open;
    launcher.setAttribute("aria-expanded", state.open ? "true" : "false");
    root.hidden = true;  // shown once its styles are in, so it never flashes unstyled
    var link = el("link", null, { rel: "stylesheet", href: BASE + "chat.css" });
    var shown = false;
    var show = function () { if (!shown) { shown = true; root.hidden = false; scrollToEnd(); } };
    link.addEventListener("load", show);
    link.addEventListener("error", show);
    window.setTimeout(show, 3000);
    document.head.appendChild(link);
    document.body.appendChild(root);
  }

  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
