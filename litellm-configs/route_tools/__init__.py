"""Offline tools for the routes: evaluation on labelled data. Run from a checkout (`make eval`);
they never ship in the proxy image, which carries only the runtime modules beside this folder."""
