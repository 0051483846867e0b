"""Trust: the bundles and native stores each client is given, and where they came from."""
