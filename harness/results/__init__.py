"""Results as data: the model, its JSON Schema, and CI expectations checked against it."""
