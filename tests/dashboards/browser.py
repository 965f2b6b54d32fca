"""What every dashboard browser test checks: each chart card has loaded, every drawn canvas has
non-blank pixels, each has its table alternative and its "computed" line, and no script or CSP
error was logged."""

from typing import Any

from tests import factories

# Counts pixels that are not fully transparent and not white, per canvas.
INKED_PIXELS = """
(canvas) => {
  const ctx = canvas.getContext('2d');
  const {width, height} = canvas;
  if (!width || !height) return 0;
  const data = ctx.getImageData(0, 0, width, height).data;
  let inked = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
    if (a > 0 && !(r > 245 && g > 245 && b > 245)) inked++;
  }
  return inked;
}
"""


def sign_in(page: Any, email: str, then: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(then)


def charts_settled(page: Any, *, timeout_ms: int = 20_000) -> dict[str, str]:
    """Waits until every chart card has left the loading state; {chart id: state}."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('figure[data-chart-url]')]"
        ".every(f => f.dataset.state && f.dataset.state !== 'loading')",
        timeout=timeout_ms,
    )
    return page.eval_on_selector_all(
        "figure[data-chart-url]",
        "(figs) => Object.fromEntries(figs.map(f => [f.id, f.dataset.state]))",
    )


def assert_charts_drawn(page: Any, *, allow_empty: frozenset[str] = frozenset()) -> dict[str, int]:
    """Every chart is drawn (or, for the ids in allow_empty, says it has nothing to show), every
    drawn canvas has inked pixels, and each has its table and when it was computed. Returns
    {chart id: inked pixels}."""
    states = charts_settled(page)
    assert states, "no chart on the page"
    inked: dict[str, int] = {}
    for chart_id, state in states.items():
        if state == "empty" and chart_id in allow_empty:
            continue
        assert state == "drawn", f"{chart_id} is {state}"
        figure = page.locator(f"#{chart_id}")
        inked[chart_id] = figure.locator("canvas").evaluate(INKED_PIXELS)
        assert inked[chart_id] > 500, f"{chart_id} canvas is blank ({inked[chart_id]} inked pixels)"
        assert figure.locator(".chart-table table tbody tr").count() > 0, f"{chart_id}: no table"
        assert "Computed" in figure.locator(".chart-computed").inner_text()
    assert page.console_errors == [], page.console_errors
    return inked
