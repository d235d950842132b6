(function () {
  "use strict";
  // Everything below only draws: lanes, rows, foreach groups and the DAG's layers come
  // computed in the data (weft/runtime/tracing/layout.py).
  var data = JSON.parse(document.getElementById("weft-trace-data").textContent);
  var ROW = 22, ITEM_ROW = 18;
  var PAGE = 50;        // items shown per "show more" in an open foreach group
  var LANE_ROWS = 40;   // rows of a lane shown before "show all rows"
  var spans = {}, plainOf = {}, groups = {};
  data.spans.forEach(function (s) {
    // The data leaves out fields at their default, to keep a large run's page small.
    if (s.agent === undefined) { s.agent = null; }
    if (s.group === undefined) { s.group = null; s.item = null; }
    s.critical = s.critical === true;
    s.tokens = s.tokens || [0, 0];
    s.cost = s.cost || 0;
    spans[s.id] = s;
    if (s.lane !== null && s.group === null) { (plainOf[s.lane] = plainOf[s.lane] || []).push(s); }
  });
  data.groups.forEach(function (g) {
    groups[g.id] = g;
    g.open = !g.collapsed;
    g.shown = PAGE;
    g.order = "slowest";
  });
  var openLanes = {};
  var CHUNK = 40;       // lanes drawn (and dropped) together
  var NEAR = 800;       // px beyond the window in which lanes are drawn
  var chunks = [], chunkOf = {}, laneObserver = null;
  var total = Math.max(data.total_ms, 0.001);
  var zoom = 1;
  var selected = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function ms(v) {
    if (v === null || v === undefined) { return "–"; }
    if (v === 0) { return "0"; }
    if (v >= 60000) { return (v / 60000).toFixed(1) + " min"; }
    if (v >= 1000) { return (v / 1000).toFixed(2) + " s"; }
    if (v >= 1) { return v.toFixed(1) + " ms"; }
    return (v * 1000).toFixed(0) + " µs";
  }
  function pct(v) { return (v / total * 100) + "%"; }
  function stateClass(state) { return "s-" + String(state || "unknown").replace(/\s+/g, "-"); }
  function failed(state) { return state === "error" || state === "failed" || state === "timeout"; }
  function pretty(value) {
    if (value === undefined || value === null) { return null; }
    if (typeof value === "string") { return value; }
    try { return JSON.stringify(value, null, 2); } catch (e) { return String(value); }
  }
  // An error with the traceback it kept: the error, then the traceback as Python prints it.
  function errorText(error) {
    var details = error && error.details;
    if (!details || typeof details.traceback !== "string") { return pretty(error); }
    var rest = Object.assign({}, error, { details: Object.assign({}, details) });
    delete rest.details.traceback;
    if (!Object.keys(rest.details).length) { delete rest.details; }
    return pretty(rest) + "\n\n" + details.traceback;
  }
  // An LLM request's messages (or its reply) as a transcript: "[role]" then the text.
  function transcript(value) {
    if (value === undefined || value === null) { return null; }
    var messages = Array.isArray(value) ? value : [value];
    if (!messages.every(function (m) { return m && typeof m === "object" && m.role; })) { return pretty(value); }
    return messages.map(function (m) {
      var who = m.role === "tool" && m.tool_call_id ? "tool " + m.tool_call_id : m.role;
      var lines = [];
      if (m.content) { lines.push(typeof m.content === "string" ? m.content : pretty(m.content)); }
      if (m.refusal) { lines.push("refused: " + m.refusal); }
      (m.tool_calls || []).forEach(function (c) {
        var f = c.function || c;
        lines.push("call " + f.name + "(" + (typeof f.arguments === "string" ? f.arguments : pretty(f.arguments)) + ")");
      });
      return "[" + who + "]\n" + lines.join("\n");
    }).join("\n\n");
  }
  function button(cls, text, onClick) {
    var b = el("button", cls, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function renderSummary() {
    var run = data.run, h = document.getElementById("facts");
    document.title = "weft trace · " + (run.workflow || run.run_id || "run");
    function fact(label, value) {
      var f = el("span", "fact", label + " ");
      f.appendChild(el("b", null, value));
      h.appendChild(f);
    }
    h.appendChild(el("span", "badge " + stateClass(run.state), run.state));
    fact("workflow", run.workflow || "–");
    fact("run", run.run_id || "–");
    fact("duration", ms(run.duration_ms !== null ? run.duration_ms : data.total_ms));
    fact("spans", run.spans);
    fact("lanes", data.lanes.length);
    var u = run.usage || {};
    if (u.prompt_tokens || u.completion_tokens) {
      fact("tokens", (u.prompt_tokens || 0) + " in / " + (u.completion_tokens || 0) + " out");
    }
    if (u.cost) { fact("cost", "$" + Number(u.cost).toFixed(4)); }
  }

  // -- timeline ---------------------------------------------------------------------

  function bar(s, row, rowHeight) {
    var b = button("span-bar k-" + s.kind + " " + stateClass(s.status), s.name, function () { select(s.id); });
    b.dataset.spanId = s.id;
    b.style.left = pct(s.start);
    b.style.width = pct(s.duration);
    b.style.top = (row * rowHeight + 3) + "px";
    b.title = s.name + (s.item !== null ? " [" + s.item + "]" : "") + " · " + s.kind + " · " +
      s.status + " · " + ms(s.duration);
    if (s.served !== undefined) {  // answered by an agent elsewhere: striped, its own span solid
      b.classList.add("waited");
      b.title += " · ran " + ms(s.served) + " on the agent, waited " + ms(Math.max(s.duration - s.served, 0));
    }
    if (s.critical) { b.classList.add("critical"); }
    if (s.id === selected) { b.classList.add("selected"); }
    return b;
  }

  function track(height) {
    var t = el("div", "lane-track");
    t.style.height = height + "px";
    return t;
  }

  function renderAxis() {
    var axis = el("div", "axis");
    axis.appendChild(el("div", "lane-label", ""));
    var t = el("div", "lane-track");
    var steps = [1, 2, 5];
    var step = 0.001, i = 0;
    while (total / step > 10 * zoom) { step = steps[i % 3] * Math.pow(10, Math.floor(i / 3) - 3); i++; }
    for (var x = 0; x <= total; x += step) {
      var tick = el("div", "tick", ms(x));
      tick.style.left = pct(x);
      t.appendChild(tick);
    }
    axis.appendChild(t);
    return axis;
  }

  function renderRunRow() {
    var runSpans = data.spans.filter(function (s) { return s.lane === null; });
    if (!runSpans.length) { return null; }
    var row = el("div", "run-row");
    row.appendChild(el("div", "lane-label", "run"));
    var t = track(ROW * runSpans.length + 6);
    runSpans.forEach(function (s, k) { t.appendChild(bar(s, k, ROW)); });
    row.appendChild(t);
    return row;
  }

  function renderLane(lane) {
    var box = el("div", "lane");
    box.dataset.lane = lane.name;
    var row = el("div", "lane-row");
    var label = el("div", "lane-label", lane.name + " ");
    label.title = lane.name;
    label.appendChild(el("small", null, lane.spans + (lane.spans === 1 ? " span" : " spans")));
    var shown = openLanes[lane.name] ? lane.rows : Math.min(lane.rows, LANE_ROWS);
    if (shown < lane.rows) {
      label.appendChild(el("br"));
      label.appendChild(button("plain more-rows", "show all " + lane.rows + " rows", function () {
        openLanes[lane.name] = true;
        box.replaceWith(renderLane(lane));
      }));
    }
    row.appendChild(label);
    var t = track(Math.max(shown, 1) * ROW + 6);
    (plainOf[lane.name] || []).forEach(function (s) { if (s.row < shown) { t.appendChild(bar(s, s.row, ROW)); } });
    row.appendChild(t);
    box.appendChild(row);
    lane.groups.forEach(function (id) { box.appendChild(renderGroup(groups[id])); });
    return box;
  }

  function ordered(g) {
    var items = g.items.slice();  // slowest first, as the data has them
    if (g.order === "index") { items.sort(function (a, b) { return a.index - b.index; }); }
    if (g.order === "failed") {
      items.sort(function (a, b) { return (failed(b.status) ? 1 : 0) - (failed(a.status) ? 1 : 0); });
    }
    return items;
  }

  function densityChart(g) {
    var box = el("div", "density" + (g.failed ? " has-failed" : ""));
    box.style.left = pct(g.start);
    box.style.width = pct(g.duration);
    var peak = Math.max.apply(null, g.density.concat([1]));
    var n = g.density.length, d = "M0 100";
    g.density.forEach(function (v, k) {
      var y = (100 - v / peak * 100).toFixed(1);
      d += " L" + (k / n * 100).toFixed(2) + " " + y + " L" + ((k + 1) / n * 100).toFixed(2) + " " + y;
    });
    box.innerHTML = '<svg viewBox="0 0 100 100" preserveAspectRatio="none" aria-hidden="true"><path d="' +
      d + ' L100 100 Z"/></svg>';
    var served = g.served_peak ? "; at most " + g.served_peak + " running on agents at once" : "";
    box.title = g.count + " items of " + g.name + "; up to " + g.peak + " in flight at once" + served;
    box.appendChild(el("span", "peak", g.peak + " in flight" + (g.served_peak ? " · " + g.served_peak + " running on agents" : "")));
    return box;
  }

  function renderGroup(g) {
    var box = el("div", "group" + (g.open ? " open" : ""));
    box.dataset.group = g.id;
    box.dataset.node = g.name;
    box.dataset.count = g.count;
    var head = el("div", "lane-row group-head" + (g.critical ? " critical" : ""));
    var label = el("div", "lane-label");
    var toggle = button("group-toggle", g.name + " · " + g.count + " items", function () {
      g.open = !g.open;
      rerender(g);
    });
    toggle.setAttribute("aria-expanded", g.open ? "true" : "false");
    toggle.title = (g.open ? "Fold" : "Show") + " the items of " + g.name;
    label.appendChild(toggle);
    var stats = el("span", "group-stats", "max " + ms(g.max) + " · p50 " + ms(g.p50));
    if (g.failed) {
      stats.appendChild(document.createTextNode(" · "));
      stats.appendChild(el("span", "failed", g.failed + " failed"));
    }
    label.appendChild(stats);
    if (g.open && g.count > data.collapse_above) {  // a few items need no choice of order
      var order = el("select", "group-order");
      order.setAttribute("aria-label", "Order of the items");
      [["slowest", "slowest first"], ["index", "by index"], ["failed", "failed first"]].forEach(function (o) {
        var option = el("option", null, o[1]);
        option.value = o[0];
        option.selected = g.order === o[0];
        order.appendChild(option);
      });
      order.addEventListener("change", function () { g.order = order.value; rerender(g); });
      label.appendChild(order);
    }
    head.appendChild(label);
    var t = el("div", "lane-track");
    t.appendChild(densityChart(g));
    head.appendChild(t);
    box.appendChild(head);
    if (!g.open) { return box; }
    var items = ordered(g), shown = Math.min(g.shown, items.length);
    var block = el("div", "group-items");
    for (var k = 0; k < shown; k++) { block.appendChild(renderItem(items[k])); }
    box.appendChild(block);
    if (shown < items.length) {
      var more = el("div", "group-more");
      more.appendChild(el("div", "lane-label", (items.length - shown) + " more items"));
      var buttons = el("div", "lane-track");
      buttons.appendChild(button("plain", "show " + Math.min(PAGE, items.length - shown) + " more", function () {
        g.shown += PAGE;
        rerender(g);
      }));
      buttons.appendChild(button("plain", "show all " + items.length, function () {
        g.shown = items.length;
        rerender(g);
      }));
      more.appendChild(buttons);
      box.appendChild(more);
    }
    return box;
  }

  function renderItem(item) {
    var row = el("div", "lane-row item" + (failed(item.status) ? " failed" : ""));
    row.dataset.index = item.index;
    var label = el("div", "lane-label");
    label.appendChild(el("b", null, "[" + item.index + "]"));
    label.appendChild(el("small", null, " " + ms(item.duration) + (failed(item.status) ? " · " + item.status : "")));
    row.appendChild(label);
    var t = track(item.rows * ITEM_ROW + 2);
    item.spans.forEach(function (id) { var s = spans[id]; t.appendChild(bar(s, s.row, ITEM_ROW)); });
    row.appendChild(t);
    return row;
  }

  function rerender(g) {
    var old = document.querySelector('.group[data-group="' + g.id + '"]');
    if (old) { old.replaceWith(renderGroup(g)); }
  }

  // The lanes are drawn a chunk at a time, and only the chunks near the window exist: a run
  // with a lane per agent of 10,000 agents costs what one screen of lanes costs. A chunk out
  // of reach is an empty box of its height (estimated until it was drawn, measured after).
  function laneEstimate(lane) {
    var shown = openLanes[lane.name] ? lane.rows : Math.min(lane.rows, LANE_ROWS);
    var height = Math.max(shown, 1) * ROW + 7 + (shown < lane.rows ? 22 : 0);
    lane.groups.forEach(function (id) {
      var g = groups[id];
      height += 46;
      if (!g.open) { return; }
      var items = g.items.slice(0, Math.min(g.shown, g.items.length));
      items.forEach(function (item) { height += item.rows * ITEM_ROW + 3; });
      if (items.length < g.items.length) { height += 30; }
    });
    return height;
  }

  function drawChunk(c) {
    if (c.drawn) { return; }
    c.el.style.height = "";
    c.lanes.forEach(function (lane) { c.el.appendChild(renderLane(lane)); });
    c.drawn = true;
  }

  function dropChunk(c, height) {
    if (!c.drawn) { return; }
    c.el.textContent = "";
    c.el.style.height = height + "px";
    c.drawn = false;
  }

  function renderTimeline() {
    var t = document.getElementById("timeline");
    if (laneObserver) { laneObserver.disconnect(); }
    t.textContent = "";
    t.style.width = (zoom * 100) + "%";
    t.appendChild(renderAxis());
    var run = renderRunRow();
    if (run) { t.appendChild(run); }
    chunks = [];
    chunkOf = {};
    for (var k = 0; k < data.lanes.length; k += CHUNK) {
      var c = { lanes: data.lanes.slice(k, k + CHUNK), el: el("div", "lane-chunk"), drawn: false, height: 0 };
      c.el.dataset.chunk = chunks.length;
      c.lanes.forEach(function (lane) { c.height += laneEstimate(lane); chunkOf[lane.name] = c; });
      c.el.style.height = c.height + "px";
      chunks.push(c);
      t.appendChild(c.el);
    }
    // What is on screen now is drawn now; the rest as it comes near (the observer).
    var top = chunks.length ? chunks[0].el.getBoundingClientRect().top : 0;
    chunks.forEach(function (c) {
      if (top < window.innerHeight + NEAR && top + c.height > -NEAR) { drawChunk(c); }
      top += c.height;
    });
    if (window.IntersectionObserver) {
      laneObserver = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          var c = chunks[Number(e.target.dataset.chunk)];
          if (!c || c.el !== e.target) { return; }
          if (e.isIntersecting) { drawChunk(c); } else { dropChunk(c, e.boundingClientRect.height); }
        });
      }, { rootMargin: NEAR + "px 0px" });
      chunks.forEach(function (c) { laneObserver.observe(c.el); });
    } else {
      chunks.forEach(drawChunk);
    }
  }

  // -- graph ------------------------------------------------------------------------

  // Node boxes are made only for the part of the graph in its box's view, and edges are
  // drawn on a canvas the size of that view, only those that cross it: the graph costs
  // what one view of it holds. Edges of the critical path are drawn in its colour, those
  // of the selected node darker. When more edges than EDGES_IN_VIEW cross the view (a
  // dense graph at size), only those highlighted edges are drawn, and a note says so.
  var DAG_W = 190, DAG_H = 58, DAG_PAD = 12, NODE_W = 150, NODE_H = 40;
  var EDGES_IN_VIEW = 20000;
  var dag = null;

  function setupDag() {
    var g = data.graph;
    if (!g || !g.nodes.length) {
      document.getElementById("dag-section").appendChild(el("p", "empty", "No graph was recorded for this run."));
      return;
    }
    var count = g.nodes.length, xs = new Float64Array(count), ys = new Float64Array(count);
    var bySpan = {}, into = [], outOf = [], edges = g.edges, loops = g.loops || [];
    g.nodes.forEach(function (n, i) {
      xs[i] = DAG_PAD + n.layer * DAG_W;
      ys[i] = DAG_PAD + n.index * DAG_H;
      if (n.span) { bySpan[n.span] = i; }
      into.push([]);
      outOf.push([]);
    });
    for (var k = 0; k < edges.length; k += 2) { outOf[edges[k]].push(edges[k + 1]); into[edges[k + 1]].push(edges[k]); }
    var path = [];  // consecutive nodes of the critical path, as flat index pairs
    var onPath = data.critical.map(function (id) { return bySpan[id]; }).filter(function (i) { return i !== undefined; });
    for (k = 1; k < onPath.length; k++) { path.push(onPath[k - 1], onPath[k]); }
    var critical = {};
    data.critical.forEach(function (id) { critical[id] = true; });
    var box = document.getElementById("dag");
    // Loops dip below their nodes: room for them under the last row.
    var width = g.layers * DAG_W + DAG_PAD * 2, height = g.height * DAG_H + DAG_PAD * 2 + (loops.length ? 20 : 0);
    box.style.width = width + "px";
    box.style.height = height + "px";
    var canvas = el("canvas");
    canvas.setAttribute("aria-hidden", "true");
    box.appendChild(canvas);
    var note = el("p", "dag-note");
    note.hidden = true;
    document.getElementById("dag-section").appendChild(note);
    dag = {
      g: g, xs: xs, ys: ys, bySpan: bySpan, into: into, outOf: outOf, edges: edges, loops: loops,
      path: path, critical: critical, box: box, canvas: canvas, note: note, shown: {},
      scroller: document.getElementById("dag-scroll"), width: width, height: height, pending: false
    };
    dag.scroller.addEventListener("scroll", redrawDag, { passive: true });
    window.addEventListener("resize", redrawDag);
  }

  function redrawDag() {
    if (!dag || dag.pending) { return; }
    dag.pending = true;
    requestAnimationFrame(function () { dag.pending = false; drawDag(); });
  }

  function dagNode(i) {
    var n = dag.g.nodes[i];
    var b = button("dag-node " + stateClass(n.state), null, function () { if (n.span) { select(n.span); } });
    b.dataset.node = n.name;
    if (n.span) { b.dataset.spanId = n.span; }
    if (n.span && dag.critical[n.span]) { b.classList.add("critical"); }
    if (n.span && n.span === selected) { b.classList.add("selected"); }
    b.style.left = dag.xs[i] + "px";
    b.style.top = dag.ys[i] + "px";
    var what = n.items !== null && n.items !== undefined ? n.items + " items" : (n.foreach ? "foreach" : n.action);
    b.appendChild(el("b", null, n.name));
    b.appendChild(el("small", null, what + " · " + n.state));
    b.title = n.name + " (" + n.action + (n.foreach ? ", foreach" : "") + "): " + n.state;
    return b;
  }

  function drawDag() {
    if (!dag) { return; }
    var s = dag.scroller, vx = s.scrollLeft, vy = s.scrollTop;
    var vw = Math.min(s.clientWidth || dag.width, dag.width), vh = Math.min(s.clientHeight || dag.height, dag.height);
    var xs = dag.xs, ys = dag.ys, i, k;
    for (i = 0; i < xs.length; i++) {  // the node boxes in view, in the data's order
      var inView = xs[i] + NODE_W >= vx && xs[i] <= vx + vw && ys[i] + NODE_H >= vy && ys[i] <= vy + vh;
      if (inView && !dag.shown[i]) { dag.shown[i] = dag.box.appendChild(dagNode(i)); }
      if (!inView && dag.shown[i]) { dag.shown[i].remove(); delete dag.shown[i]; }
    }
    var ratio = window.devicePixelRatio || 1, canvas = dag.canvas;
    canvas.style.left = vx + "px";
    canvas.style.top = vy + "px";
    canvas.style.width = vw + "px";
    canvas.style.height = vh + "px";
    canvas.width = Math.ceil(vw * ratio);
    canvas.height = Math.ceil(vh * ratio);
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, -vx * ratio, -vy * ratio);
    function crosses(a, b) {
      var x1 = xs[a] + NODE_W, x2 = xs[b], y1 = ys[a] + NODE_H / 2, y2 = ys[b] + NODE_H / 2;
      return Math.max(x1, x2) >= vx && Math.min(x1, x2) <= vx + vw &&
        Math.max(y1, y2) >= vy && Math.min(y1, y2) <= vy + vh;
    }
    function stroke(list, colour, lineWidth) {  // list: flat index pairs
      var heads = [];
      ctx.beginPath();
      for (var j = 0; j < list.length; j += 2) {
        var a = list[j], b = list[j + 1];
        if (!crosses(a, b)) { continue; }
        var x1 = xs[a] + NODE_W, y1 = ys[a] + NODE_H / 2, x2 = xs[b], y2 = ys[b] + NODE_H / 2, mid = (x1 + x2) / 2;
        ctx.moveTo(x1, y1);
        ctx.bezierCurveTo(mid, y1, mid, y2, x2, y2);
        heads.push(x2, y2);
      }
      ctx.strokeStyle = colour;
      ctx.lineWidth = lineWidth;
      ctx.stroke();
      ctx.beginPath();
      for (j = 0; j < heads.length; j += 2) {
        ctx.moveTo(heads[j], heads[j + 1]);
        ctx.lineTo(heads[j] - 7, heads[j + 1] - 3.5);
        ctx.lineTo(heads[j] - 7, heads[j + 1] + 3.5);
        ctx.closePath();
      }
      ctx.fillStyle = colour;
      ctx.fill();
    }
    var visible = [], edges = dag.edges;
    for (k = 0; k < edges.length && visible.length <= 2 * EDGES_IN_VIEW; k += 2) {
      if (crosses(edges[k], edges[k + 1])) { visible.push(edges[k], edges[k + 1]); }
    }
    var dense = visible.length > 2 * EDGES_IN_VIEW;
    if (!dense) { stroke(visible, "#9aa0ad", 1.4); }
    dag.note.hidden = !dense;
    dag.note.textContent = dense ? (edges.length / 2).toLocaleString("en") + " edges, too many in view to draw: " +
      "shown are those of the critical path and of the selected node." : "";
    ctx.beginPath();  // loops: dashed, below the two nodes
    for (k = 0; k < dag.loops.length; k += 2) {
      var a = dag.loops[k], b = dag.loops[k + 1];
      var x1 = xs[a] + NODE_W / 2, y1 = ys[a] + NODE_H, x2 = xs[b] + NODE_W / 2, y2 = ys[b] + NODE_H;
      var dip = Math.max(y1, y2) + 16;
      ctx.moveTo(x1, y1);
      ctx.bezierCurveTo(x1, dip, x2, dip, x2, y2);
    }
    ctx.setLineDash([4, 3]);
    ctx.strokeStyle = "#8d929e";
    ctx.lineWidth = 1.4;
    ctx.stroke();
    ctx.setLineDash([]);
    stroke(dag.path, "#f2b400", 2);
    var at = selected !== null ? dag.bySpan[selected] : undefined;
    if (at !== undefined) {
      var around = [];
      dag.into[at].forEach(function (p) { around.push(p, at); });
      dag.outOf[at].forEach(function (q) { around.push(at, q); });
      stroke(around, "#1d1f24", 1.8);
    }
  }

  // -- details ----------------------------------------------------------------------

  function mark(id) {
    document.querySelectorAll(".selected").forEach(function (e) { e.classList.remove("selected"); });
    document.querySelectorAll('[data-span-id="' + id + '"]').forEach(function (e) { e.classList.add("selected"); });
  }

  function setField(name, value) {
    var target = document.querySelector('#details [data-field="' + name + '"]');
    var text = pretty(value);
    target.textContent = text === null ? "–" : text;
    target.classList.toggle("empty", text === null);
  }

  // Draw the lanes, and open the group (and enough of it) or the lane, that hold a span, so
  // that its bar exists (until it is scrolled far from: then it is drawn again when near).
  function reveal(s) {
    if (s.lane === null) { return; }
    if (s.group === null && s.row >= LANE_ROWS && !openLanes[s.lane]) { openLanes[s.lane] = true; renderTimeline(); }
    if (chunkOf[s.lane]) { drawChunk(chunkOf[s.lane]); }
    if (s.group === null) { return; }
    var g = groups[s.group];
    var at = ordered(g).findIndex(function (item) { return item.index === s.item; });
    if (!g.open || at >= g.shown) {
      g.open = true;
      g.shown = Math.max(g.shown, (Math.floor(at / PAGE) + 1) * PAGE);
      rerender(g);
    }
  }

  function select(id, scroll) {
    var s = spans[id];
    if (!s) { return; }
    selected = id;
    reveal(s);
    mark(id);
    drawDag();
    if (scroll) {
      var target = document.querySelector('.span-bar[data-span-id="' + id + '"]');
      if (target) { target.scrollIntoView({ block: "center" }); }
    }
    var g = s.group !== null ? groups[s.group] : null;
    document.getElementById("detail-title").textContent = s.name;
    document.getElementById("detail-hint").hidden = true;
    document.getElementById("detail-body").hidden = false;
    var a = s.attributes || {};
    setField("kind", s.kind);
    // A question to a person is no failure: say what it asks instead of showing an error.
    var asked = s.status === "needs_input" && a.error && a.error.details ? a.error.details.question : null;
    setField("status", asked ? "needs_input · asks: " + asked : s.status);
    setField("lane", s.lane === null ? "run" : s.lane);
    setField("node", s.node);
    setField("item", g ? s.item + " of " + g.count + " in " + g.name : null);
    var side = a["weft.side"];
    setField("served", s.served !== undefined
      ? "ran " + ms(s.served) + " on the agent · waited " + ms(Math.max(s.duration - s.served, 0)) + " (broker, queue)"
      : side === "agent" ? "the agent's own span of the call" : null);
    var delay = a["weft.retry_delay"];
    setField("attempt", a["weft.attempt"] === undefined ? null
      : a["weft.attempt"] + (typeof delay === "number" ? " · failed, retried after " + ms(delay * 1000) : ""));
    setField("start", "+" + ms(s.start));
    setField("duration", ms(s.duration));
    setField("tokens", (s.tokens[0] || s.tokens[1]) ? s.tokens[0] + " in / " + s.tokens[1] + " out" : null);
    setField("cost", s.cost ? "$" + s.cost.toFixed(6) : null);
    setField("critical", s.critical ? "yes: on the critical path" : "no");
    setField("span_id", s.id);
    setField("parent_id", s.parent);
    setField("input", s.kind === "llm" ? transcript(a.input) : a.input);
    setField("output", s.kind === "llm" ? transcript(a.output) : a.output);
    var hasError = a.error !== undefined && a.error !== null && s.status !== "needs_input";
    document.getElementById("detail-error-block").hidden = !hasError;
    setField("error", hasError ? errorText(a.error) : null);
    var rest = {};
    Object.keys(a).forEach(function (k) {
      if (k !== "input" && k !== "output" && k !== "error" && a[k] !== null) { rest[k] = a[k]; }
    });
    setField("attributes", Object.keys(rest).length ? rest : null);
    if (history.replaceState) { history.replaceState(null, "", "#span=" + id); }
  }

  document.getElementById("zoom-in").addEventListener("click", function () { zoom = Math.min(zoom * 2, 256); renderTimeline(); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoom = Math.max(zoom / 2, 1); renderTimeline(); });
  document.getElementById("zoom-reset").addEventListener("click", function () { zoom = 1; renderTimeline(); });

  // The sticky header's height, for the details panel and for jumps to an anchor.
  function fitHeader() {
    var height = document.getElementById("summary").getBoundingClientRect().height;
    document.documentElement.style.setProperty("--header", Math.ceil(height) + "px");
  }
  window.addEventListener("resize", fitHeader);

  renderSummary();
  setupDag();
  drawDag();
  renderTimeline();
  fitHeader();
  var wanted = /span=([0-9a-f]+)/.exec(location.hash || "");
  if (wanted) { select(wanted[1], true); }
  if (window.performance && performance.mark) { performance.mark("weft-trace-ready"); }
  document.body.dataset.ready = "true";
})();
