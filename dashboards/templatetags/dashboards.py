"""{% chart url title chart_id %}: a chart card (templates/dashboards/_chart.html) that
static/js/dashboards.js fills from `url`."""

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def chart(url: str, title: str, chart_id: str, wide: bool = False) -> SafeString:
    context: dict[str, Any] = {"url": url, "title": title, "chart_id": chart_id, "wide": wide}
    return render_to_string("dashboards/_chart.html", context)
