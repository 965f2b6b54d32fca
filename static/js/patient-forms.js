// Progressive enhancement of the observation form: once a measurement is chosen, offer only the
// units it accepts (each option of the measurement select lists them in data-units). Without
// JavaScript every unit is offered and the server refuses a wrong one with a field error.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const code of document.querySelectorAll("select[data-unit-field]")) {
    const unit = document.getElementById(code.dataset.unitField);
    if (!unit) continue;
    const narrow = (pickDefault) => {
      const chosen = code.selectedOptions[0];
      const allowed = chosen && chosen.dataset.units ? chosen.dataset.units.split(" ") : null;
      for (const option of unit.options) {
        if (!option.value) continue;
        const ok = !allowed || allowed.includes(option.value);
        option.hidden = !ok;
        option.disabled = !ok;
      }
      // Only when the person changes the measurement: after a refused submission the unit they
      // chose stays visible next to its error message.
      if (pickDefault && allowed && !allowed.includes(unit.value)) unit.value = allowed[0];
    };
    code.addEventListener("change", () => narrow(true));
    narrow(false);
  }
});
