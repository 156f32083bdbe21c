"""What authors write (content/): checks now; the store, sync and search build on it."""
