"""A commitment's schedule: its payments planned year by year (its CP), and every version."""
