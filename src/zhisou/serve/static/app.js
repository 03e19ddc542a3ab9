// zhisou web UI: "/" focuses search, suggestions as you type, debounced as-you-type results (on the
// search page and the home page), arrow keys through the results, click logging, theme toggle.
(function () {
  "use strict";
  var input = document.getElementById("q");
  var results = document.getElementById("results");

  // Suggestions as you type: a listbox under the search box (combobox pattern). ↑/↓ move through
  // it, Enter searches the highlighted one, Esc closes it; a click searches one too.
  var list = document.getElementById("suggest-list");
  var labels = {};
  try { labels = JSON.parse(list ? list.getAttribute("data-labels") : "{}") || {}; } catch (e) { labels = {}; }
  var active = -1;
  var suggestTimer = null;
  var suggestSequence = 0;

  function suggestionsOpen() { return list && !list.hidden && list.children.length > 0; }

  function closeSuggestions() {
    if (!list) return;
    list.hidden = true;
    list.innerHTML = "";
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function highlightOption(next) {
    var options = list.children;
    if (active >= 0 && options[active]) options[active].setAttribute("aria-selected", "false");
    active = next;
    if (active >= 0 && options[active]) {
      options[active].setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", options[active].id);
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function searchFor(text) {
    var params = new URLSearchParams(window.location.pathname === "/search" ? window.location.search : "");
    params.set("q", text);
    params.delete("page");
    window.location.assign("/search?" + params.toString());
  }

  function showSuggestions(typed, suggestions) {
    list.innerHTML = "";
    active = -1;
    var folded = typed.trim().toLowerCase();
    suggestions.forEach(function (item, index) {
      var option = document.createElement("li");
      option.id = "suggest-" + index;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.setAttribute("data-text", item.text);
      var text = document.createElement("span");
      // A title is shown as written (BM25 调参) and found by its folded form (bm25 …).
      if (folded && item.text.toLowerCase().indexOf(folded) === 0 && item.text.toLowerCase().length === item.text.length) {
        var mark = document.createElement("mark");
        mark.textContent = item.text.slice(0, folded.length);
        text.appendChild(mark);
        text.appendChild(document.createTextNode(item.text.slice(folded.length)));
      } else {
        text.textContent = item.text;
      }
      option.appendChild(text);
      if (labels[item.source]) {
        var label = document.createElement("small");
        label.textContent = labels[item.source];
        option.appendChild(label);
      }
      option.addEventListener("mousedown", function (event) {
        event.preventDefault(); // keep the focus in the box until the search starts
        searchFor(item.text);
      });
      list.appendChild(option);
    });
    list.hidden = suggestions.length === 0;
    input.setAttribute("aria-expanded", suggestions.length ? "true" : "false");
  }

  if (input && list) {
    input.addEventListener("input", function () {
      clearTimeout(suggestTimer);
      var typed = input.value;
      if (!typed.trim()) { closeSuggestions(); return; }
      suggestTimer = setTimeout(function () {
        var mine = ++suggestSequence;
        fetch("/api/suggest?" + new URLSearchParams({ q: typed.slice(0, 64), size: "8" }).toString())
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (body) {
            if (!body || mine !== suggestSequence || input.value !== typed) return;
            showSuggestions(typed, body.suggestions || []);
          })
          .catch(function () { closeSuggestions(); });
      }, 80);
    });
    input.addEventListener("blur", function () { setTimeout(closeSuggestions, 100); });
    input.addEventListener("keydown", function (event) {
      if (!suggestionsOpen()) return;
      var count = list.children.length;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        event.stopPropagation(); // the list has the arrows while it is open, not the results
        var step = event.key === "ArrowDown" ? 1 : -1;
        var next = active + step;
        highlightOption(next < -1 ? count - 1 : next >= count ? -1 : next);
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        searchFor(list.children[active].getAttribute("data-text"));
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        closeSuggestions();
      }
    });
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable);
    if (event.key === "/" && !typing && input) {
      event.preventDefault();
      input.focus();
      input.select();
    } else if (event.key === "Escape" && target === input) {
      input.blur();
    } else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && (target === input || isHit(target))) {
      // Arrow keys walk from the search box through the results and back (not the home feed).
      var hits = Array.prototype.slice.call(document.querySelectorAll("#results a.hit-link"));
      var at = hits.indexOf(target);
      var next = event.key === "ArrowDown" ? at + 1 : at - 1;
      if (next >= 0 && next < hits.length) {
        hits[next].focus();
      } else if (next < 0 && input) {
        input.focus();
      } else {
        return;
      }
      event.preventDefault();
    }
  });

  function isHit(element) {
    return element && element.classList && element.classList.contains("hit-link");
  }

  var toggle = document.getElementById("theme-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var root = document.documentElement;
      var dark = root.dataset.theme
        ? root.dataset.theme === "dark"
        : window.matchMedia("(prefers-color-scheme: dark)").matches;
      root.dataset.theme = dark ? "light" : "dark";
      try { localStorage.setItem("zhisou-theme", root.dataset.theme); } catch (e) { /* ignore */ }
    });
  }

  // As-you-type: 250 ms after the last keystroke the results are fetched and shown — in place
  // on the search page; on the home page they take the feed's place, as if on /search.
  var home = document.getElementById("feed-page");
  if (input && (results || home)) {
    var timer = null;
    var sequence = 0;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      if (!results && !input.value.trim()) return; // the home page keeps its feed
      timer = setTimeout(function () {
        var params = new URLSearchParams(results ? window.location.search : "");
        params.set("q", input.value);
        params.delete("page");
        var mine = ++sequence;
        fetch("/search?" + params.toString() + "&partial=1", { headers: { "Accept": "text/html" } })
          .then(function (response) { return response.ok ? response.text() : null; })
          .then(function (html) {
            if (html === null || mine !== sequence) return; // a newer request is on its way
            if (!results) {
              results = document.createElement("div");
              results.id = "results";
              home.replaceWith(results);
            }
            results.innerHTML = html;
            window.history.replaceState(null, "", "/search?" + params.toString());
          })
          .catch(function () { /* keep the current results; Enter still submits the form */ });
      }, 250);
    });
  }

  // A document opened from a result: mark the query's words in its text.
  var article = document.querySelector("article.document[data-marks]");
  if (article) {
    var words = [];
    try { words = JSON.parse(article.getAttribute("data-marks")) || []; } catch (e) { words = []; }
    var prose = article.querySelector(".prose");
    if (prose && words.length) markWords(prose, words);
  }

  function markWords(root, words) {
    var escaped = words.map(function (w) { return w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); });
    var pattern = new RegExp("(" + escaped.join("|") + ")", "gi");
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach(function (node) {
      var text = node.nodeValue;
      pattern.lastIndex = 0;
      if (!pattern.test(text)) return;
      var fragment = document.createDocumentFragment();
      var last = 0;
      text.replace(pattern, function (match, _group, offset) {
        fragment.appendChild(document.createTextNode(text.slice(last, offset)));
        var mark = document.createElement("mark");
        mark.textContent = match;
        fragment.appendChild(mark);
        last = offset + match.length;
        return match;
      });
      fragment.appendChild(document.createTextNode(text.slice(last)));
      node.parentNode.replaceChild(fragment, node);
    });
  }

  // Clicks on results go to the search log (learning to rank trains from them).
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a.hit-link") : null;
    if (!link) return;
    var scope = link.closest("[data-query-id]");
    var queryId = scope ? scope.getAttribute("data-query-id") : "";
    if (!queryId || !navigator.sendBeacon) return;
    var payload = JSON.stringify({
      query_id: queryId,
      id: link.getAttribute("data-id"),
      rank: parseInt(link.getAttribute("data-rank"), 10)
    });
    navigator.sendBeacon("/api/events/click", new Blob([payload], { type: "application/json" }));
  });
})();
