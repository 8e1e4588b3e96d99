"""The signals a decision is made of, in the order they run. Adding one: a module here with a
signal class and its factory (see base.py), one line below, and its routes-file field in
routes_file.py. The utterance vote comes first: the combiner treats it as the primary signal."""

from __future__ import annotations

from dynamic_model_router.decide.signals.base import SignalFactory
from dynamic_model_router.decide.signals.canary import canary
from dynamic_model_router.decide.signals.class_head import class_head
from dynamic_model_router.decide.signals.history import history
from dynamic_model_router.decide.signals.topic_change import topic_change
from dynamic_model_router.decide.signals.utterance_vote import utterance_vote

# Topic change runs before history: it silences history, which is then never computed.
SIGNALS: tuple[SignalFactory, ...] = (utterance_vote, class_head, topic_change, history, canary)
