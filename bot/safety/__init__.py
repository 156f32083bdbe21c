"""What the bot does for safety once a crisis is detected: crisis lines, countries, risk levels."""
