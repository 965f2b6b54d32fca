"""/api/v1/recommendations/ (owned by the API layer)."""

urlpatterns: list = []
