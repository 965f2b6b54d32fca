// The study viewer's controls: show or hide the heatmap and mask overlays, their opacity, and the
// window/level of a CT frame (which reloads the base image as ?window=lung or ?wc=..&ww=..).
// The results arrive by an htmx swap once the analysis is done, so every handler is delegated
// from the document rather than bound to elements that may not exist yet. Styles are set through
// the CSSOM (el.style), which the Content-Security-Policy allows; no inline style attributes.
"use strict";

(() => {
  const viewerOf = (el) => {
    const card = el.closest(".viewer-card");
    return card ? card.querySelector("[data-viewer]") : null;
  };

  const applyOpacity = (viewer, value) => {
    for (const overlay of viewer.querySelectorAll("[data-overlay]")) {
      overlay.style.opacity = String(value / 100);
    }
  };

  const windowUrl = (form) => {
    const viewer = viewerOf(form);
    const base = viewer.querySelector(".viewer-base").dataset.baseSrc;
    const preset = form.querySelector("[data-window-preset]").value;
    const center = form.querySelector("[data-window-center]").value.trim();
    const width = form.querySelector("[data-window-width]").value.trim();
    if (preset) return `${base}?window=${encodeURIComponent(preset)}`;
    if (center !== "" && width !== "") {
      return `${base}?wc=${encodeURIComponent(center)}&ww=${encodeURIComponent(width)}`;
    }
    if (center === "" && width === "") return base;
    return null;
  };

  const applyWindow = (form) => {
    const viewer = viewerOf(form);
    const errorBox = form.querySelector("[data-window-error]");
    const url = windowUrl(form);
    if (url === null) {
      errorBox.textContent = "Give both a centre and a width, or choose a preset.";
      errorBox.hidden = false;
      return;
    }
    errorBox.hidden = true;
    const image = viewer.querySelector(".viewer-base");
    if (image.getAttribute("src") === url) return;
    viewer.setAttribute("aria-busy", "true");
    // Load first, swap after: a refused window (HTTP 400) leaves the current image in place.
    const next = new Image();
    next.addEventListener("load", () => {
      image.src = url;
      viewer.setAttribute("aria-busy", "false");
    });
    next.addEventListener("error", () => {
      viewer.setAttribute("aria-busy", "false");
      errorBox.textContent = "That window was not accepted (centre -4000 to 40000 HU, width at least 1).";
      errorBox.hidden = false;
    });
    next.src = url;
  };

  document.addEventListener("change", (event) => {
    const el = event.target;
    if (!(el instanceof HTMLElement)) return;
    if (el.matches("[data-toggle]")) {
      const viewer = viewerOf(el);
      const overlay = viewer && viewer.querySelector(`[data-overlay="${el.dataset.toggle}"]`);
      if (overlay) overlay.hidden = !el.checked;
    } else if (el.matches("[data-window-preset]")) {
      const form = el.closest("form");
      const option = el.selectedOptions[0];
      if (option && option.value) {
        form.querySelector("[data-window-center]").value = option.dataset.center;
        form.querySelector("[data-window-width]").value = option.dataset.width;
      } else {
        form.querySelector("[data-window-center]").value = "";
        form.querySelector("[data-window-width]").value = "";
      }
      applyWindow(form);
    } else if (el.matches("[data-window-center], [data-window-width]")) {
      // Typed numbers replace the preset.
      const form = el.closest("form");
      form.querySelector("[data-window-preset]").value = "";
      applyWindow(form);
    }
  });

  document.addEventListener("input", (event) => {
    const el = event.target;
    if (!(el instanceof HTMLInputElement) || !el.matches("[data-opacity]")) return;
    const viewer = viewerOf(el);
    if (!viewer) return;
    applyOpacity(viewer, Number(el.value));
    const shown = el.closest(".viewer-card").querySelector("[data-opacity-value]");
    if (shown) shown.textContent = `${el.value} %`;
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches("[data-window-form]")) return;
    // Without JavaScript the form downloads the re-windowed PNG; with it, the viewer updates.
    event.preventDefault();
    const preset = form.querySelector("[data-window-preset]");
    const option = preset.selectedOptions[0];
    const center = form.querySelector("[data-window-center]").value;
    const width = form.querySelector("[data-window-width]").value;
    if (preset.value && (center !== option.dataset.center || width !== option.dataset.width)) {
      preset.value = "";
    }
    applyWindow(form);
  });
})();
