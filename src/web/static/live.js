// Live updates for the dashboard: polls the JSON endpoints named by data-live
// attributes and rewrites what they show. Text goes in through textContent only.
"use strict";
(function () {
  const PERIOD_MS = 1000;
  const time = (value) => (value ? value.replace("T", " ").replace(/\.\d+/, "").replace(/(Z|\+00:00)$/, " UTC") : "—");
  const cell = (row, text, href) => {
    const td = row.insertCell();
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    return td;
  };
  const badge = (status) => {
    const span = document.createElement("span");
    span.className = "status " + status;
    span.textContent = status;
    return span;
  };
  async function poll(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(url + ": " + response.status);
    return response.json();
  }
  function processRows(body) {
    poll(body.dataset.live).then((data) => {
      body.replaceChildren();
      for (const p of data.processes) {
        const row = body.insertRow();
        row.dataset.process = p.processId;
        cell(row, String(p.processId), "/processes/" + p.processId);
        cell(row, p.processName);
        cell(row, "").appendChild(badge(p.status));
        cell(row, p.attempt + " / " + p.maxAttempts);
        cell(row, p.workerAssigned || "—");
        cell(row, time(p.createdAt));
        cell(row, time(p.startTime));
        cell(row, time(p.endTime));
        cell(row, p.exitCode === null ? "" : String(p.exitCode));
      }
    }).catch(() => {}).finally(() => setTimeout(() => processRows(body), PERIOD_MS));
  }
  function processStatus(span) {
    poll(span.dataset.live).then((data) => {
      const p = data.process;
      if (p.status !== span.dataset.status) {
        span.dataset.status = p.status;
        span.replaceChildren(badge(p.status));
        const item = document.createElement("li");
        item.textContent = p.status;
        document.getElementById("status-history").appendChild(item);
        document.getElementById("process-attempt").textContent = p.attempt + " of " + p.maxAttempts;
        document.getElementById("process-ended").textContent = time(p.endTime);
        document.getElementById("process-exit").textContent = p.exitCode === null ? "—" : String(p.exitCode);
      }
      const final = ["Completed", "Failed", "Cancelled"].includes(p.status);
      if (!final) setTimeout(() => processStatus(span), PERIOD_MS);
    }).catch(() => setTimeout(() => processStatus(span), PERIOD_MS));
  }
  document.addEventListener("DOMContentLoaded", () => {
    const rows = document.getElementById("process-rows");
    if (rows) setTimeout(() => processRows(rows), PERIOD_MS);
    const status = document.getElementById("process-status");
    if (status) setTimeout(() => processStatus(status), 200);
  });
})();
