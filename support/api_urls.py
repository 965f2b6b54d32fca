"""/api/v1/support/: helpdesk tickets and their replies. Ids are UUIDs."""

from django.urls import URLPattern, path

from support import apis

urlpatterns: list[URLPattern] = [
    path("support/tickets/", apis.TicketListApi.as_view(), name="api-support-tickets"),
    path(
        "support/tickets/<uuid:public_id>/",
        apis.TicketDetailApi.as_view(),
        name="api-support-ticket",
    ),
    path(
        "support/tickets/<uuid:public_id>/replies/",
        apis.TicketReplyApi.as_view(),
        name="api-support-ticket-replies",
    ),
]
