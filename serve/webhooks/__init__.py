"""Callbacks from providers: Twilio's texts, calls and delivery reports."""
