"""The accounts pages: signing in and out, profile and second factor, joining and approval."""
