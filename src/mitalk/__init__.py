"""Mi Talk: live audio rooms for professionals."""

__version__ = "0.1.0"
