"""CDS Hooks 2.0 service: discovery, the patient-view hook and feedback (see .views)."""
