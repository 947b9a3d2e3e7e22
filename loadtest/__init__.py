"""`make load`: a locust load test of the APIs, local by default, bounded and self-judging."""
