"""c360: a Customer Data Platform with a built-in loyalty program."""

__version__ = "0.1.0"
