"""Built-in sparse losses: per-frame weights of the localisation loss (paper §3.2)."""
