"""What the client receives of a model's reply: folded for people when the model's format calls for it;
and a folded reply the client sends back, unfolded again for the models (history.py)."""
