"""What changes while the proxy runs: the routes file reloaded on edit (the last good one kept), and
the runtime adapters its routes name, loaded into vLLM and unloaded again."""
