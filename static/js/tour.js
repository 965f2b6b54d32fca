// The guided tour: a few steps per role, each pointing at a real element of the top bar. It opens by
// itself for a role whose tour the user has not seen (the top bar's "Tour" button carries
// data-tour-autostart), and from "Tour" (or "Take the tour" in the help center) at any time.
// Skipping it, Esc, or finishing it tells the server (POST /help/tour/), so it does not open by
// itself again.
// No library, no inline script or style (the CSP): positions are set through the CSSOM.
"use strict";

(() => {
  const NAV = (href) => `nav.mainnav a[href="${href}"]`;
  const HELP = {
    target: ".usermenu .help-link",
    title: "Help on every page",
    text: "The ? opens the guide of the page you are on. The help center has one guide per task, with pictures of the real pages, and a search box.",
  };
  const AGAIN = {
    target: "[data-tour-open][data-tour-url]",
    title: "See this again",
    text: "Tour, here in the top bar, shows these steps again whenever you like.",
  };
  const welcome = (text) => ({ target: null, title: "Welcome to Health Analysis Mentor", text });

  const STEPS = {
    clinician: [
      welcome("A one-minute tour of the pages you will use most. Next and Back move through it; Esc or Skip closes it."),
      { target: NAV("/patients/"), title: "Your patients", text: "Find a patient of your care teams by exact MRN or name. The record holds the vital signs and laboratory results, risk assessments, imaging and recommendations." },
      { target: NAV("/recommendations/"), title: "Recommendations", text: "Guideline recommendations waiting for your decision, most urgent first. Accept them, or decline them with a reason." },
      { target: NAV("/dashboards/"), title: "Dashboards", text: "Your patients at a glance: who is at high risk, studies waiting, and how the models perform." },
      { target: NAV("/risk/models/"), title: "Model cards", text: "What each risk model predicts, the data it learnt from and how accurate it was. Every result links to its model card." },
      HELP,
      AGAIN,
    ],
    nurse: [
      welcome("A one-minute tour of the pages you will use most. Next and Back move through it; Esc or Skip closes it."),
      { target: NAV("/patients/"), title: "Your patients", text: "Find a patient by exact MRN or name, then record vital signs and laboratory results with their units from the record." },
      { target: NAV("/dashboards/"), title: "Dashboards", text: "Your care teams' patients at a glance: who is at high risk and which studies are waiting." },
      HELP,
      AGAIN,
    ],
    radiologist: [
      welcome("A one-minute tour of the pages you will use most. Next and Back move through it; Esc or Skip closes it."),
      { target: NAV("/imaging/"), title: "The worklist", text: "Your care teams' imaging studies, the most urgent first. Open a study to read the AI findings, correct the draft report and sign it." },
      { target: NAV("/patients/"), title: "Patients", text: "The patient's record, with its imaging panel and the upload button." },
      { target: NAV("/dashboards/"), title: "Dashboards", text: "Imaging operations: is the analysis queue keeping up, how long studies wait, what failed." },
      HELP,
      AGAIN,
    ],
    researcher: [
      welcome("A one-minute tour. You work with de-identified data only. Next and Back move through it; Esc or Skip closes it."),
      { target: NAV("/patients/"), title: "De-identified data", text: "No identified records for researchers: from here, download the de-identified data set as CSV or FHIR." },
      { target: NAV("/dashboards/"), title: "Dashboards", text: "Population risk, model quality and calibration, and how recommendations are received; counts only, none under 5." },
      { target: NAV("/risk/models/"), title: "Model cards", text: "Each model's data, accuracy per subgroup and the algorithms it was compared with." },
      HELP,
      AGAIN,
    ],
    admin: [
      welcome("A one-minute tour of the administration. Next and Back move through it; Esc or Skip closes it."),
      { target: ".usermenu a[href='/accounts/profile/']", title: "Your profile", text: "Invite colleagues, approve registrations, and manage your two-factor authentication from your profile." },
      { target: NAV("/admin/"), title: "Django admin", text: "Users and roles, care teams, model versions (activate one per disease) and the audit trail." },
      { target: NAV("/dashboards/"), title: "Dashboards", text: "Model quality and imaging operations across the portal." },
      HELP,
      AGAIN,
    ],
  };

  const opener = document.querySelector("[data-tour-open][data-tour-url]");
  if (!opener) return;
  const role = opener.dataset.tourRole;
  const postUrl = opener.dataset.tourUrl;

  let state = null; // {steps, index, nodes, returnFocus}

  const visible = (el) => el && el.getClientRects().length > 0;

  function stepsForRole() {
    return (STEPS[role] || STEPS.clinician).filter(
      (s) => s.target === null || visible(document.querySelector(s.target)),
    );
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function remember() {
    // The tour was seen: it does not open by itself again (for this role).
    opener.removeAttribute("data-tour-autostart");
    fetch(postUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" },
    }).catch(() => {});
  }

  function button(label, className, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = className;
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  function build() {
    const backdrop = document.createElement("div");
    backdrop.className = "tour-backdrop";
    backdrop.setAttribute("aria-hidden", "true");
    const ring = document.createElement("div");
    ring.className = "tour-ring";
    ring.setAttribute("aria-hidden", "true");
    const dialog = document.createElement("div");
    dialog.className = "tour-dialog";
    dialog.id = "tour-dialog";
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-modal", "true");
    dialog.setAttribute("aria-labelledby", "tour-title");
    dialog.setAttribute("aria-describedby", "tour-text");
    const count = document.createElement("p");
    count.className = "tour-count";
    const title = document.createElement("h2");
    title.id = "tour-title";
    const text = document.createElement("p");
    text.id = "tour-text";
    const buttons = document.createElement("div");
    buttons.className = "tour-buttons";
    const skip = button("Skip tour", "tour-skip", () => close(true));
    const back = button("Back", "tour-back", () => show(state.index - 1));
    const next = button("Next", "tour-next", () => {
      if (state.index < state.steps.length - 1) show(state.index + 1);
      else close(true);
    });
    buttons.append(skip, back, next);
    dialog.append(count, title, text, buttons);
    dialog.addEventListener("keydown", onKeydown);
    document.body.append(backdrop, ring, dialog);
    return { backdrop, ring, dialog, count, title, text, back, next, skip };
  }

  function onKeydown(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      close(true);
      return;
    }
    if (event.key !== "Tab") return;
    // Focus stays in the dialog while it is open.
    const focusable = [...state.nodes.dialog.querySelectorAll("button:not([hidden])")];
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  function place(step) {
    const { ring, dialog, backdrop } = state.nodes;
    const target = step.target ? document.querySelector(step.target) : null;
    dialog.classList.remove("tour-centre");
    if (!target) {
      ring.hidden = true;
      backdrop.classList.add("tour-dim");
      dialog.classList.add("tour-centre");
      dialog.style.left = "";
      dialog.style.top = "";
      return;
    }
    backdrop.classList.remove("tour-dim");
    target.scrollIntoView({ block: "nearest" });
    const rect = target.getBoundingClientRect();
    const pad = 6;
    ring.hidden = false;
    ring.style.left = `${rect.left + window.scrollX - pad}px`;
    ring.style.top = `${rect.top + window.scrollY - pad}px`;
    ring.style.width = `${rect.width + 2 * pad}px`;
    ring.style.height = `${rect.height + 2 * pad}px`;
    const width = dialog.offsetWidth;
    const left = Math.min(Math.max(rect.left, 16), window.innerWidth - width - 16);
    dialog.style.left = `${left}px`;
    dialog.style.top = `${rect.bottom + pad + 12}px`;
  }

  function show(index) {
    const step = state.steps[index];
    if (!step) return;
    state.index = index;
    const n = state.nodes;
    n.count.textContent = `Step ${index + 1} of ${state.steps.length}`;
    n.title.textContent = step.title;
    n.text.textContent = step.text;
    n.back.hidden = index === 0;
    n.next.textContent = index === state.steps.length - 1 ? "Done" : "Next";
    place(step);
    n.next.focus();
  }

  function open() {
    if (state) return;
    const steps = stepsForRole();
    if (!steps.length) return;
    state = { steps, index: 0, nodes: build(), returnFocus: document.activeElement };
    document.body.classList.add("tour-open");
    window.addEventListener("resize", reposition);
    show(0);
  }

  function reposition() {
    if (state) place(state.steps[state.index]);
  }

  function close(seen) {
    if (!state) return;
    const { backdrop, ring, dialog } = state.nodes;
    backdrop.remove();
    ring.remove();
    dialog.remove();
    window.removeEventListener("resize", reposition);
    document.body.classList.remove("tour-open");
    const back = state.returnFocus;
    state = null;
    if (seen) remember();
    if (back && back.focus && document.contains(back)) back.focus();
  }

  for (const trigger of document.querySelectorAll("[data-tour-open]")) {
    trigger.addEventListener("click", (event) => {
      event.preventDefault();
      open();
    });
  }
  if (opener.hasAttribute("data-tour-autostart")) open();
})();
