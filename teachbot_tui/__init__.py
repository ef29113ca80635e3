"""teachbot: an offline AI coach for teachers, in the terminal."""

__version__ = "0.1.0"
