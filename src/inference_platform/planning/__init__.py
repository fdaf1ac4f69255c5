"""Hour-of-week capacity planning: which real-time path each hour should use, and what a plan costs."""
