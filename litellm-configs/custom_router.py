"""LiteLLM's entry point for the semantic router: the proxy config names
`custom_router.proxy_handler_instance` among its callbacks.

It only builds the hook (dynamic_model_router.hook) from the environment: the routes file
SEMANTIC_ROUTES_FILE (default: the shipped routes.yaml), reloaded live. Installed with the
project (`pip install .`, or `make setup`'s editable install), it needs no environment variable.
"""

from dynamic_model_router.hook import from_environment

proxy_handler_instance = from_environment()
