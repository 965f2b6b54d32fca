"""/api/v1/recommendations/: current recommendations, one recommendation, accept and decline,
and the rule catalogue with acceptance rates."""

from django.urls import URLPattern, path

from recommendations import apis

urlpatterns: list[URLPattern] = [
    path("recommendations/", apis.RecommendationListApi.as_view(), name="api-recommendations"),
    path("recommendations/rules/", apis.RuleListApi.as_view(), name="api-recommendation-rules"),
    path(
        "recommendations/<uuid:public_id>/",
        apis.RecommendationDetailApi.as_view(),
        name="api-recommendation",
    ),
    path(
        "recommendations/<uuid:public_id>/accept/",
        apis.RecommendationAcceptApi.as_view(),
        name="api-recommendation-accept",
    ),
    path(
        "recommendations/<uuid:public_id>/decline/",
        apis.RecommendationDeclineApi.as_view(),
        name="api-recommendation-decline",
    ),
]
