"""/cds-services (CDS Hooks)."""

app_name = "cds"

urlpatterns: list = []
