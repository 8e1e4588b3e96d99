"""Text to vectors, offline: the encoder loaded from local files, and the utterance embeddings kept
on disk so a start or a reload embeds only what is new."""
