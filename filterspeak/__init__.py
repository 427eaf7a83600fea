"""FilterSpeak: explain CNN image classifiers in words learned from captions."""

__version__ = "0.1.0"
