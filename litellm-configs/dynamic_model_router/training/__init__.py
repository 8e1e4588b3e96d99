"""Offline tools for the routes: evaluate on labelled data, train an encoder, fit conversation
handling, export Open WebUI's ratings and propose utterances from a reviewed file. Run from a
checkout (`make eval`, `make train`); the proxy never imports them (the image carries their code,
not their data, and train.py's torch lives only in .venv-train)."""
