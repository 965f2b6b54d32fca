// The image upload with a real progress bar: the form (form[data-upload]) is sent by
// XMLHttpRequest, whose upload.onprogress reports the bytes sent. The server answers JSON:
// {"redirect": url} once the study is queued, or {"error": message, "code": code} when the file is
// refused (nothing is stored). Without JavaScript the form posts normally and the server redirects
// or shows the page again with the error.
"use strict";

(() => {
  const size = (bytes) => {
    if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
    const mb = bytes / (1024 * 1024);
    return `${mb.toFixed(mb < 10 ? 1 : 0)} MB`;
  };

  const setup = (form) => {
    const input = form.querySelector("input[type=file]");
    const progressBox = form.querySelector("[data-upload-progress]");
    const progress = form.querySelector("progress");
    const percent = form.querySelector("[data-upload-percent]");
    const status = form.querySelector("[data-upload-status]");
    const errorBox = form.querySelector("[data-upload-error]");
    const chosen = form.querySelector("[data-upload-chosen]");
    const button = form.querySelector("[data-upload-button]");
    const maxBytes = Number(form.dataset.maxBytes) || 0;
    if (!input || !progress || !errorBox) return;

    const showError = (message) => {
      errorBox.replaceChildren();
      const line = document.createElement("p");
      const strong = document.createElement("strong");
      strong.textContent = "Not accepted: ";
      line.append(strong, message);
      errorBox.append(line);
      errorBox.hidden = false;
    };
    const clearError = () => {
      errorBox.hidden = true;
      errorBox.replaceChildren();
    };
    const setBusy = (busy) => {
      if (button) button.disabled = busy;
      input.disabled = busy;
      form.setAttribute("aria-busy", busy ? "true" : "false");
    };
    const tooBig = (file) => maxBytes > 0 && file.size > maxBytes;

    input.addEventListener("change", () => {
      clearError();
      const file = input.files && input.files[0];
      if (!chosen) return;
      chosen.hidden = !file;
      chosen.textContent = file ? `${file.name} · ${size(file.size)}` : "";
      if (file && tooBig(file)) {
        showError(`The file is larger than the ${form.dataset.maxMb} MB limit.`);
      }
    });

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearError();
      const file = input.files && input.files[0];
      if (!file) {
        showError("Choose a file to upload.");
        input.focus();
        return;
      }
      if (tooBig(file)) {
        showError(`The file is larger than the ${form.dataset.maxMb} MB limit.`);
        return;
      }
      const data = new FormData(form);
      const token = form.querySelector("input[name=csrfmiddlewaretoken]");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      if (token) xhr.setRequestHeader("X-CSRFToken", token.value);

      progressBox.hidden = false;
      progress.max = 100;
      progress.value = 0;
      percent.textContent = "0 %";
      status.textContent = `Uploading ${file.name}…`;
      setBusy(true);

      xhr.upload.addEventListener("progress", (e) => {
        if (!e.lengthComputable) return;
        const share = Math.round((e.loaded / e.total) * 100);
        progress.value = share;
        percent.textContent = `${share} %`;
        status.textContent = `Uploading: ${size(e.loaded)} of ${size(e.total)}`;
      });
      xhr.upload.addEventListener("load", () => {
        progress.value = 100;
        percent.textContent = "100 %";
        status.textContent = "Uploaded. Checking the file…";
      });
      xhr.addEventListener("load", () => {
        let body = {};
        try {
          body = JSON.parse(xhr.responseText || "{}");
        } catch {
          body = {};
        }
        if (xhr.status >= 200 && xhr.status < 300 && body.redirect) {
          status.textContent = "Accepted. Opening the study…";
          window.location.assign(body.redirect);
          return;
        }
        setBusy(false);
        progressBox.hidden = true;
        let message = body.error;
        if (!message && xhr.status === 403) {
          message = "You are not allowed to upload (or your session expired: sign in again).";
        }
        showError(message || `The upload failed (HTTP ${xhr.status}). Try again.`);
      });
      const failed = (words) => () => {
        setBusy(false);
        progressBox.hidden = true;
        showError(words);
      };
      xhr.addEventListener("error", failed("The connection failed during the upload. Try again."));
      xhr.addEventListener("abort", failed("The upload was interrupted. Try again."));
      xhr.send(data);
    });
  };

  const start = () => {
    for (const form of document.querySelectorAll("form[data-upload]")) setup(form);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
