// The import page's progress: while the job is queued or running, its JSON status
// (section[data-import-status]) is fetched every two seconds and the bar, the counts, the failure
// reason and the report link are updated in place. Polling stops once the job is done or failed.
"use strict";

(() => {
  const POLL_MS = 2000;

  const setup = (section) => {
    const url = section.dataset.importStatus;
    const bar = section.querySelector("[data-import-progress]");
    const percent = section.querySelector("[data-import-percent]");
    const phase = section.querySelector("[data-import-phase]");
    const badge = section.querySelector("[data-import-badge]");
    const failure = section.querySelector("[data-import-failure]");
    const skipped = section.querySelector("[data-import-skipped]");
    const report = document.querySelector("[data-import-report]");

    const render = (status) => {
      section.dataset.state = status.state;
      if (bar) bar.value = status.percent;
      if (percent) percent.textContent = `${status.percent} %`;
      if (phase) phase.textContent = status.phase;
      if (badge) {
        badge.className = `badge state-${status.state}`;
        badge.textContent = status.state_display;
      }
      for (const [name, value] of Object.entries(status.counts)) {
        for (const cell of section.querySelectorAll(`[data-count="${name}"]`)) {
          cell.textContent = String(value);
        }
      }
      if (skipped) {
        const parts = Object.entries(status.skipped).map(([kind, n]) => `${n} ${kind}`);
        skipped.textContent = parts.length ? parts.join(", ") : "none";
      }
      if (failure) {
        failure.textContent = status.failure_reason || "";
        failure.hidden = status.state !== "failed";
      }
      if (report && status.report_url) {
        report.href = status.report_url;
        report.hidden = false;
      }
      section.setAttribute("aria-busy", status.pending ? "true" : "false");
    };

    const poll = async () => {
      let status;
      try {
        const response = await fetch(url, {
          headers: { Accept: "application/json", "X-Background-Poll": "1" },
          credentials: "same-origin",
        });
        if (response.redirected || response.status === 401 || response.status === 403) {
          window.location.reload(); // signed out: the page goes to the sign-in form
          return;
        }
        if (!response.ok) throw new Error(String(response.status));
        status = await response.json();
      } catch {
        window.setTimeout(poll, POLL_MS * 2); // a blip: try again, a little later
        return;
      }
      render(status);
      if (status.pending) window.setTimeout(poll, POLL_MS);
    };

    if (section.dataset.state === "queued" || section.dataset.state === "running") {
      window.setTimeout(poll, POLL_MS);
    }
  };

  const start = () => {
    for (const section of document.querySelectorAll("section[data-import-status]")) setup(section);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
