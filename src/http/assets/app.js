// clipwatch dashboard: live counts and job list without a reload. The page
// works without this script; it only polls live.json every 2 seconds.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var tbody = document.getElementById("jobs");
  if (!live || !tbody) return;
  var base = document.body.getAttribute("data-base") || "";
  var version = live.getAttribute("data-version");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function segment(name) {
    return name.split("/").map(encodeURIComponent).join("/");
  }
  function row(job) {
    var tr = el("tr", { "data-job": String(job.id) });
    var thumbCell = el("td");
    if (job.thumbnail) {
      thumbCell.appendChild(el("img", { "class": "thumb", alt: "", 
        src: base + "/files/" + job.id + "/" + segment(job.thumbnail) }));
    }
    var main = el("td");
    main.appendChild(el("a", { href: base + "/jobs/" + job.id }, job.title));
    main.appendChild(el("div", { "class": "muted" }, "#" + job.id + " " + job.key));
    var state = el("td");
    state.appendChild(el("span", { "class": "state state-" + job.state }, job.state));
    tr.appendChild(thumbCell); tr.appendChild(main); tr.appendChild(state);
    tr.appendChild(el("td", { "class": "muted" }, job.updated_at));
    return tr;
  }
  function apply(data) {
    Object.keys(data.counts).forEach(function (state) {
      var n = document.getElementById("count-" + state);
      if (n) n.textContent = String(data.counts[state]);
    });
    var rows = document.createDocumentFragment();
    data.jobs.forEach(function (job) { rows.appendChild(row(job)); });
    tbody.replaceChildren(rows);
    live.setAttribute("data-version", String(data.version));
  }
  function poll() {
    fetch(base + "/live.json", { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && String(data.version) !== version) {
          version = String(data.version);
          apply(data);
        }
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 2000);
})();
