"""feedwatch: watch a breaking story live from a terminal."""

__version__ = "0.1.0"
