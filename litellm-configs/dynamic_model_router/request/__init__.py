"""Requests as they reach the proxy: the body (size, shape), the fields and messages checked before
routing, the conversation read from any of the OpenAI APIs, the guards callback that answers what
cannot be served, and the master-key check."""
