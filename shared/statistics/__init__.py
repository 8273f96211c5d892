"""Statistics that never identify a student: aggregate queries, disclosure control and the publishable report."""
