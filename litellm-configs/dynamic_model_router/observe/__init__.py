"""What people see of a decision: Prometheus metrics and log events for operators, response headers
and Open WebUI's status line for clients. Never a prompt."""
