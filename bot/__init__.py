"""Amani: a multilingual mental-health support assistant built on Rasa Open Source."""
