"""The package version, written into every manifest so an index records what built it."""

__version__ = "0.1.0"
