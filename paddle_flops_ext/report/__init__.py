"""The result of a profile, assembled once from an engine's records, and its
presentation: one content model and the renderers that read it."""
