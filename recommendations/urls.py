"""/recommendations/: what awaits the user's decision, one recommendation and the accept and
decline posts, the record panel's fragment, the rule catalogue and the benefit model card."""

from django.urls import URLPattern, path

from recommendations import views

app_name = "recommendations"

urlpatterns: list[URLPattern] = [
    path("", views.awaiting, name="awaiting"),
    path("rules/", views.rule_list, name="rules"),
    path("benefit-model/", views.benefit_model, name="benefit_model"),
    path("patients/<uuid:public_id>/panel/", views.patient_panel, name="panel"),
    path("<uuid:public_id>/", views.recommendation_detail, name="detail"),
    path("<uuid:public_id>/accept/", views.recommendation_accept, name="accept"),
    path("<uuid:public_id>/decline/", views.recommendation_decline, name="decline"),
]
