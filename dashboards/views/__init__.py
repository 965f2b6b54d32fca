"""Dashboard pages (HTML shells whose charts load from the data endpoints) and the chart
endpoints (django-chartjs class-based views, see dashboards.views.base), one module per
dashboard. Each module exports `urlpatterns`; dashboards/urls.py joins them."""
