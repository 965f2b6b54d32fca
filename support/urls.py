"""/support/: Help & support (tickets). Ids are UUIDs; another user's ticket is a 404."""

from django.urls import URLPattern, path

from support import views

app_name = "support"

urlpatterns: list[URLPattern] = [
    path("", views.ticket_list, name="tickets"),
    path("tickets/new/", views.ticket_new, name="ticket_new"),
    path("tickets/<uuid:public_id>/", views.ticket_detail, name="ticket"),
    path("tickets/<uuid:public_id>/reply/", views.ticket_reply, name="ticket_reply"),
    path("tickets/<uuid:public_id>/status/", views.ticket_status, name="ticket_status"),
    path("tickets/<uuid:public_id>/screenshot/", views.ticket_screenshot, name="ticket_screenshot"),
]
