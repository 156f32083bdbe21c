"""Messaging channels: Rasa input/output channels, one module per platform."""
