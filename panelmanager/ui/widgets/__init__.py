"""Widgets the screens share: the check-in confirm panel, the patient view."""
