// Plenilune dashboard: polls dashboard/data and redraws. No framework, no network beyond
// the nameserver. Every value reaches the page through textContent, never as HTML: bucket
// names and server ids come from users and operators.
"use strict";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

function bytes(n) {
  let i = 0;
  while (Math.abs(n) >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(Math.round(n))) + " " + UNITS[i];
}

function duration(s) {
  if (s === null || s === undefined) return "—";
  if (s < 60) return Math.round(s) + " s";
  if (s < 3600) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function bar(used, capacity) {
  const frac = capacity > 0 ? Math.min(used / capacity, 1) : 0;
  const inner = el("span", {style: "width:" + (frac * 100).toFixed(1) + "%"});
  return el("span", {class: "bar" + (frac > 0.9 ? " full" : ""), title: (frac * 100).toFixed(1) + "%"}, inner);
}

function card(label, value, warn) {
  return el("div", {class: "card" + (warn ? " warn" : "")},
    el("div", {class: "label"}, label), el("div", {class: "value"}, value));
}

function renderSummary(st) {
  const live = st.servers.filter(s => s.state === "live").length;
  const cards = [
    card("Servers live", live + " / " + st.servers.length, live < st.servers.length),
    card("Used / capacity", bytes(st.used_bytes) + " / " + bytes(st.capacity_bytes)),
    card("Blocks · files", st.blocks + " · " + st.files),
    card("Bytes at risk (below RF " + st.replication_factor + ")", bytes(st.bytes_below_rf), st.bytes_below_rf > 0),
    card("Blocks below RF", String(st.under_replicated_blocks), st.under_replicated_blocks > 0),
    card("Missing blocks", String(st.missing_blocks), st.missing_blocks > 0),
    card("Repair left · rate", bytes(st.repair_bytes_left) + " · " + bytes(st.repair_rate_bytes_per_s) + "/s"),
    card("Repair ETA", duration(st.repair_eta_s)),
  ];
  document.getElementById("summary").replaceChildren(...cards);
}

function renderServers(servers) {
  const rows = servers.map(s => el("tr", {"data-server-id": s.server_id},
    el("td", {}, el("span", {title: s.public_url}, s.server_id)),
    el("td", {}, s.zone || "—"),
    el("td", {class: "state", "data-state": s.state}, s.state),
    el("td", {}, bar(s.used_bytes, s.capacity_bytes), bytes(s.used_bytes) + " / " + bytes(s.capacity_bytes)),
    el("td", {class: "num"}, s.blocks),
    el("td", {class: "num"}, s.last_heartbeat_age_s.toFixed(1) + " s ago")));
  document.querySelector("#servers tbody").replaceChildren(...rows);
}

function renderBuckets(buckets) {
  const rows = buckets.map(b => el("tr", {"data-bucket": b.name},
    el("td", {}, b.name),
    el("td", {class: "num"}, (b.truncated ? "≥ " : "") + b.objects),
    el("td", {class: "num"}, (b.truncated ? "≥ " : "") + bytes(b.bytes))));
  if (!rows.length) rows.push(el("tr", {}, el("td", {colspan: "3", class: "muted"}, "no buckets")));
  document.querySelector("#buckets tbody").replaceChildren(...rows);
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderChart(points, intervalS) {
  const W = 640, H = 160, L = 70, B = 20, T = 10;
  const root = svg("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img"});
  const box = document.getElementById("chart");
  if (points.length < 1) {
    root.append(svg("text", {x: L, y: H / 2}, "collecting samples (one every " + intervalS + " s)…"));
    box.replaceChildren(root);
    return;
  }
  const max = Math.max(1, ...points.map(p => Math.max(p.written_bytes_per_s, p.repaired_bytes_per_s)));
  const t0 = points[0].at, t1 = points[points.length - 1].at, span = Math.max(t1 - t0, 1);
  const x = t => L + (W - L - 10) * (points.length === 1 ? 1 : (t - t0) / span);
  const y = v => H - B - (H - B - T) * (v / max);
  root.append(svg("line", {x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: "#ccd3dc"}));
  root.append(svg("text", {x: 4, y: T + 8}, bytes(max) + "/s"));
  root.append(svg("text", {x: 4, y: H - B}, "0"));
  root.append(svg("text", {x: L, y: H - 4}, "−" + duration(t1 - t0)));
  root.append(svg("text", {x: W - 40, y: H - 4}, "now"));
  for (const [key, cls] of [["written_bytes_per_s", "written"], ["repaired_bytes_per_s", "repaired"]]) {
    const pts = points.map(p => x(p.at).toFixed(1) + "," + y(p[key]).toFixed(1)).join(" ");
    root.append(svg("polyline", {class: cls, points: points.length === 1 ? pts + " " + pts : pts}));
  }
  const last = points[points.length - 1];
  root.append(svg("text", {x: L + 10, y: T + 8, class: "legend"},
    "written " + bytes(last.written_bytes_per_s) + "/s · repaired " + bytes(last.repaired_bytes_per_s) + "/s"));
  box.replaceChildren(root);
}

let refreshS = 3;

async function refresh() {
  const err = document.getElementById("error");
  try {
    const resp = await fetch("dashboard/data", {cache: "no-store"});
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    const data = await resp.json();
    refreshS = data.refresh_s || refreshS;
    renderSummary(data.status);
    renderServers(data.status.servers);
    renderChart(data.throughput, data.sample_interval_s);
    renderBuckets(data.buckets);
    document.getElementById("updated").textContent =
      "updated " + new Date().toLocaleTimeString() + " · every " + refreshS + " s";
    err.hidden = true;
  } catch (e) {
    // Keep the last good picture on screen, and say it is stale.
    err.textContent = "nameserver unreachable (" + e.message + "): showing older data";
    err.hidden = false;
  } finally {
    setTimeout(refresh, refreshS * 1000);
  }
}

refresh();
