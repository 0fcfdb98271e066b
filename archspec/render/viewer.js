// archspec's diagram viewer: every drawing is in the page's JSON data, laid out ahead
// of time; this script only switches between them, pans, zooms, shows tooltips and
// searches. Text from the data is always set with textContent, never parsed as HTML.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("archspec-data").textContent);
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas"), layer = $("layer"), tip = $("tip");
  const results = $("results"), search = $("search");
  const parsed = new Map();
  const view = { k: 1, x: 0, y: 0 };
  let stack = [];

  $("name").textContent = data.name;
  $("subtitle").textContent = data.subtitle;
  document.title = data.name + " · archspec";

  // Graphviz writes no script, but a drawing is still treated as untrusted markup.
  function clean(root) {
    for (const el of [root, ...root.querySelectorAll("*")]) {
      const tag = el.localName.toLowerCase();
      if (tag === "script" || tag === "foreignobject" || tag === "iframe" || tag === "title") {
        el.remove();
        continue;
      }
      for (const attr of [...el.attributes]) {
        if (/^on/i.test(attr.name) || /href$/i.test(attr.name)) el.removeAttribute(attr.name);
      }
    }
    return root;
  }

  function drawing(vi) {
    if (!parsed.has(vi)) {
      const doc = new DOMParser().parseFromString(data.views[vi].svg, "image/svg+xml");
      const svg = clean(document.importNode(doc.documentElement, true));
      const box = svg.viewBox.baseVal;
      svg.setAttribute("width", box.width);
      svg.setAttribute("height", box.height);
      for (const g of svg.querySelectorAll("g.node")) {
        const info = data.nodes[g.id];
        if (!info) continue;
        if (info.expand !== undefined) g.classList.add("expandable");
        g.addEventListener("mouseenter", (e) => showTip(info, e));
        g.addEventListener("mousemove", moveTip);
        g.addEventListener("mouseleave", hideTip);
        g.addEventListener("click", (e) => {
          e.stopPropagation();
          if (!moved && info.expand !== undefined) open(info.expand);
        });
      }
      for (const g of svg.querySelectorAll("g.cluster")) {
        const info = data.clusters[g.id];
        if (!info) continue;
        g.classList.add("expandable");
        g.addEventListener("click", (e) => {
          e.stopPropagation();
          if (!moved) open(info.expand);
        });
      }
      parsed.set(vi, svg);
    }
    return parsed.get(vi);
  }

  function apply() {
    layer.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.k})`;
  }

  function size(vi) {
    const box = drawing(vi).viewBox.baseVal;
    return [box.width, box.height];
  }

  // Opening a drawing: whole when it fits, else full width from the top (a deep network
  // is a tall, narrow drawing that would be unreadable shrunk to the window's height).
  function home(whole) {
    const [w, h] = size(current());
    const cw = canvas.clientWidth, ch = canvas.clientHeight;
    view.k = whole ? Math.min(cw / w, ch / h) : Math.min(1, cw / w);
    view.x = (cw - w * view.k) / 2;
    view.y = whole ? (ch - h * view.k) / 2 : 8;
    apply();
  }

  const current = () => stack[stack.length - 1];

  function show() {
    const vi = current();
    layer.replaceChildren(drawing(vi));
    for (const g of layer.querySelectorAll(".hit")) g.classList.remove("hit");
    hideTip();
    const v = data.views[vi];
    $("note").textContent = v.note || "";
    $("back").disabled = stack.length < 2;
    const crumbs = $("crumbs");
    crumbs.replaceChildren();
    stack.forEach((idx, depth) => {
      if (depth) crumbs.append(" › ");
      const b = document.createElement("button");
      b.textContent = data.views[idx].title;
      b.addEventListener("click", () => { stack = stack.slice(0, depth + 1); show(); });
      crumbs.append(b);
    });
    for (const b of $("levels").children) b.classList.toggle("on", Number(b.dataset.view) === stack[0]);
    home(false);
  }

  function open(vi) {
    if (vi === current()) return;
    stack.push(vi);
    show();
  }

  for (const level of ["stage", "block", "layer"]) {
    const b = document.createElement("button");
    b.textContent = level + "s";
    b.id = "level-" + level;
    const vi = data.levels[level];
    if (vi === null || vi === undefined) {
      b.disabled = true;
      b.title = "too large to draw whole: expand a stage instead";
    } else {
      b.dataset.view = vi;
      b.addEventListener("click", () => { stack = [vi]; show(); });
    }
    $("levels").append(b);
  }
  $("back").addEventListener("click", () => { if (stack.length > 1) { stack.pop(); show(); } });

  // Tooltips.
  function showTip(info, e) {
    const table = document.createElement("table");
    for (const [key, value] of info.rows) {
      const tr = table.insertRow();
      tr.insertCell().textContent = key;
      tr.insertCell().textContent = value;
    }
    tip.replaceChildren(table);
    if (info.expand !== undefined) {
      const hint = document.createElement("div");
      hint.className = "hint";
      hint.textContent = "click to expand: " + data.views[info.expand].title;
      tip.append(hint);
    }
    tip.hidden = false;
    moveTip(e);
  }
  function moveTip(e) {
    const pad = 14, r = tip.getBoundingClientRect();
    let x = e.clientX + pad, y = e.clientY + pad;
    if (x + r.width > innerWidth) x = Math.max(0, e.clientX - r.width - pad);
    if (y + r.height > innerHeight) y = Math.max(0, e.clientY - r.height - pad);
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  function hideTip() { tip.hidden = true; }

  // Pan and zoom.
  let drag = null, moved = false;
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y };
    moved = false;
  });
  addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!moved && Math.hypot(dx, dy) < 4) return;
    moved = true;
    canvas.classList.add("dragging");
    hideTip();
    view.x = drag.vx + dx;
    view.y = drag.vy + dy;
    apply();
  });
  addEventListener("pointerup", () => {
    drag = null;
    canvas.classList.remove("dragging");
    setTimeout(() => { moved = false; }, 0);
  });
  function zoom(factor, cx, cy) {
    const k = Math.min(8, Math.max(0.02, view.k * factor));
    const f = k / view.k;
    view.x = cx - (cx - view.x) * f;
    view.y = cy - (cy - view.y) * f;
    view.k = k;
    apply();
  }
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  const centre = () => [canvas.clientWidth / 2, canvas.clientHeight / 2];
  $("zoom-in").addEventListener("click", () => zoom(1.25, ...centre()));
  $("zoom-out").addEventListener("click", () => zoom(0.8, ...centre()));
  $("fit").addEventListener("click", () => home(true));
  addEventListener("keydown", (e) => {
    if (e.target === search) return;
    if (e.key === "+" || e.key === "=") zoom(1.25, ...centre());
    else if (e.key === "-") zoom(0.8, ...centre());
    else if (e.key === "0") home(true);
    else if (e.key === "Escape") $("back").click();
  });

  // Search by module path: exact paths first, then paths that start with the query,
  // then any that contain it.
  let hits = [], selected = 0;
  function find(query) {
    const q = query.trim().toLowerCase();
    if (!q) return [];
    const rank = (s) => (s === q ? 0 : s.startsWith(q) ? 1 : s.includes(q) ? 2 : 3);
    return data.index
      .map((entry) => [rank(entry[0].toLowerCase()), entry])
      .filter(([r]) => r < 3)
      .sort((a, b) => a[0] - b[0])
      .slice(0, 50)
      .map(([, entry]) => entry);
  }
  function list() {
    results.replaceChildren();
    hits.forEach((entry, i) => {
      const b = document.createElement("button");
      b.textContent = entry[0] + "  (" + data.views[entry[1]].title + ")";
      b.classList.toggle("sel", i === selected);
      b.addEventListener("mousedown", (e) => { e.preventDefault(); go(entry); });
      results.append(b);
    });
    if (!hits.length && search.value.trim()) results.textContent = "no module path matches";
    results.hidden = !search.value.trim();
  }
  search.addEventListener("input", () => { hits = find(search.value); selected = 0; list(); });
  search.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (hits.length) selected = (selected + (e.key === "ArrowDown" ? 1 : hits.length - 1)) % hits.length;
      list();
    } else if (e.key === "Enter" && hits.length) {
      go(hits[selected]);
    } else if (e.key === "Escape") {
      results.hidden = true;
    }
  });
  search.addEventListener("blur", () => { results.hidden = true; });

  function go([path, vi, id]) {
    results.hidden = true;
    stack = [data.start];
    if (vi !== data.start) stack.push(vi);
    show();
    let target = id ? layer.querySelector("#" + CSS.escape(id)) : null;
    if (!target) {
      // A block: its cluster, whose label starts with its path.
      for (const g of layer.querySelectorAll("g.cluster")) {
        const text = g.querySelector("text");
        if (text && text.textContent.startsWith(path + " ")) { target = g; break; }
      }
    }
    if (!target) return;
    target.classList.add("hit");
    const c = canvas.getBoundingClientRect();
    view.k = Math.max(view.k, 0.8);
    apply();
    const r2 = target.getBoundingClientRect();
    view.x += c.left + c.width / 2 - (r2.left + r2.width / 2);
    view.y += c.top + c.height / 2 - (r2.top + r2.height / 2);
    apply();
  }

  stack = [data.start];
  show();
})();
