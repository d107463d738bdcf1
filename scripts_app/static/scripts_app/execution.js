/* Live execution page: append new log bytes and refresh the status while the run goes.
   Polls the admin's log endpoint with the offset it has read up to; stops when the run ends. */
(function () {
  "use strict";
  var POLL_MS = 1000;

  function start() {
    var log = document.getElementById("parseq-log");
    if (!log || log.dataset.final === "true") { return; }
    var url = log.dataset.url;
    var offset = parseInt(log.dataset.offset || "0", 10);
    var state = document.createElement("div");
    state.className = "parseq-log-state";
    state.id = "parseq-log-state";
    state.textContent = "Live: following the log…";
    log.classList.add("parseq-live");
    log.parentNode.appendChild(state);

    function setHtml(key, html) {
      var node = document.getElementById("parseq-" + key);
      if (node && node.innerHTML !== html) { node.innerHTML = html; }
    }

    function poll() {
      fetch(url + "?offset=" + offset, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          if (data.log) {
            var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
            log.appendChild(document.createTextNode(data.log));
            if (atBottom) { log.scrollTop = log.scrollHeight; }
          }
          offset = data.next_offset;
          log.dataset.offset = String(offset);
          Object.keys(data.html || {}).forEach(function (key) { setHtml(key, data.html[key]); });
          if (data.more) { setTimeout(poll, 0); return; }
          if (data.final) {
            log.dataset.final = "true";
            log.classList.remove("parseq-live");
            state.textContent = "The run has ended.";
            var cancel = document.getElementById("parseq-cancel-form");
            if (cancel) { cancel.parentNode.removeChild(cancel); }
            document.body.dataset.parseqFinal = data.status;
            return;
          }
          setTimeout(poll, POLL_MS);
        })
        .catch(function (error) {
          state.textContent = "Live update paused (" + error.message + "); retrying…";
          setTimeout(poll, POLL_MS * 3);
        });
    }
    setTimeout(poll, POLL_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
