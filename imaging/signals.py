"""Signals other apps may listen to (apps above imaging learn of a study's changes here, since
imaging writes results with conditional UPDATEs that send no post_save)."""

from django.dispatch import Signal

# Sent inside the writing transaction when a study's result or report changes;
# kwargs: study_id, patient_id. Receivers that do work should defer it with on_commit.
study_changed = Signal()
