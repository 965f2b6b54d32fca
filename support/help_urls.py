"""/help/: the help center's guides, its search and the guided tour's state."""

from django.urls import URLPattern, path

from support import help_views

app_name = "help"
urlpatterns: list[URLPattern] = [
    path("", help_views.help_index, name="index"),
    path("search", help_views.help_search, name="search"),
    path("tour/", help_views.tour_state, name="tour"),
    path("<slug:slug>/", help_views.guide_detail, name="guide"),
]
